"""Land statistics per municipality from the canonical layers, beside the baseline.

Categories follow the partnership's baseline (German land survey): settlement, transport,
vegetation & water. Roads and railways are lines: they become areas through typical widths
per class (``landuse/parameters/land_statistics.yaml``). Vegetation & water is land that OSM
maps as open land or water; land that OSM maps as nothing is its own category, ``unmapped``,
so the four add up to the land area and no category silently absorbs the gaps of the map.
Municipal areas are made disjoint first (:func:`municipal_geometries`): simplified borders of
neighbours overlap, and an overlap must not count twice.
"""

from __future__ import annotations

import logging
import os

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import PACKAGE_DIR, Region
from landuse.geometry import grid_tiles, map_chunks, pairs_among, union_in_tiles
from landuse.layers import LayerSet

log = logging.getLogger(__name__)

CATEGORIES = ("land_area_ha", "settlement_ha", "transport_ha", "vegetation_water_ha", "unmapped_ha")
STATS_RULES = PACKAGE_DIR / "parameters" / "land_statistics.yaml"


def load_stats_rules(path: str | os.PathLike = STATS_RULES) -> dict:
    """The class→category mapping and line widths (m), validated
    (:class:`landuse.schema.LandStatisticsConfig`)."""
    from landuse import schema

    raw = schema.read_yaml(path, what="Land statistics file")
    schema.validate(schema.LandStatisticsConfig, raw or {}, path=path)
    return raw


def municipal_geometries(boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """Municipal areas without overlaps: where borders overlap, the municipality with the lower
    AGS keeps the overlap (a deterministic rule; VG250's 200 m-simplified borders overlap their
    neighbours by up to 45 ha).

    Parameters
    ----------
    boundaries : GeoDataFrame
        The ``boundaries`` layer (``ags``), EPSG:25833.

    Returns
    -------
    ndarray of geometries
        One (multi)polygon per row of ``boundaries``, in its order; their areas add up to the
        area of their union.
    """
    geoms = boundaries.geometry.values
    order = np.argsort(boundaries["ags"].astype(str).to_numpy(), kind="stable")
    out = geoms.copy()
    for rank, k in enumerate(order[1:], start=1):
        earlier = geoms[order[:rank]]
        touching = earlier[shapely.intersects(earlier, geoms[k])]
        # borders already made disjoint (read_boundaries) only touch: leave them as they are, so a
        # municipality is the same alone and beside its neighbours
        if len(touching) and shapely.area(shapely.intersection(geoms[k], shapely.union_all(touching))) > 1.0:
            out[k] = shapely.difference(geoms[k], shapely.union_all(touching))
    return out


def _within(gdf: gpd.GeoDataFrame, area: shapely.Geometry | None) -> gpd.GeoDataFrame:
    if area is None or gdf.empty:
        return gdf
    return gdf.iloc[np.sort(gdf.sindex.query(area, predicate="intersects"))]


def transport_area(layers: LayerSet, rules: dict | None = None,
                   area: shapely.Geometry | None = None) -> shapely.Geometry:
    """Transport area (EPSG:25833): roads and railways buffered to their typical width,
    plus land-cover polygons of class transport (railway land, garages) and aerodrome
    polygons (``transport_aeroway_classes``), dissolved (overlaps counted once).

    Parameters
    ----------
    layers : LayerSet
    rules : dict, optional
        As :func:`load_stats_rules` returns (default: the package's file).
    area : shapely.Geometry, optional
        Limits the work to features touching it (the margin is not needed for statistics).

    Returns
    -------
    shapely.Geometry
        One (multi)polygon.
    """
    return shapely.union_all(_transport_parts(layers, rules, area))


def _transport_parts(layers: LayerSet, rules: dict | None, area: shapely.Geometry | None) -> np.ndarray:
    rules = rules or load_stats_rules()
    widths = rules["widths"]
    parts = []
    for layer, key in (("roads", "road_kind"), ("railways", "railway_kind")):
        gdf = _within(layers[layer], area)
        w = gdf["kind"].map({k: v["value"] for k, v in widths[key].items()}).fillna(0).to_numpy(float)
        keep = w > 0
        if layer == "roads":
            keep &= ~gdf["bridge_tunnel"].eq("tunnel").to_numpy()
        # two segments per quarter circle: the round joins add < 0.1 % area, the union runs 3× faster
        parts.append(shapely.buffer(gdf.geometry.values[keep], w[keep] / 2, cap_style="flat", quad_segs=2))
    lc = _within(layers["landcover"], area)
    parts.append(lc.geometry.values[lc["class"].isin(rules["transport_classes"]).to_numpy()])
    aero = _within(layers["aerodromes"], area)
    polygonal = shapely.get_type_id(aero.geometry.values) >= 3
    aero_mask = aero["class"].isin(rules.get("transport_aeroway_classes", [])).to_numpy() & polygonal
    parts.append(aero.geometry.values[aero_mask])
    return np.concatenate(parts)


def settlement_area(layers: LayerSet, rules: dict | None = None,
                    area: shapely.Geometry | None = None) -> shapely.Geometry:
    """Settlement area (EPSG:25833): residential, industrial and built-up special uses.

    Parameters
    ----------
    layers : LayerSet
    rules : dict, optional
        As :func:`load_stats_rules` returns (default: the package's file).
    area : shapely.Geometry, optional
        Limits the work to land cover touching it.

    Returns
    -------
    shapely.Geometry
        The dissolved land-cover polygons.
    """
    return shapely.union_all(_settlement_parts(layers, rules, area))


def _settlement_parts(layers: LayerSet, rules: dict | None, area: shapely.Geometry | None) -> np.ndarray:
    rules = rules or load_stats_rules()
    lc = _within(layers["landcover"], area)
    mask = lc["class"].isin(rules["settlement_classes"]) | (
        lc["class"].eq("other") & lc["subclass"].isin(rules["settlement_subclasses"]))
    return np.asarray(lc.geometry.values[mask.to_numpy()])


def mapped_area(layers: LayerSet, area: shapely.Geometry | None = None) -> shapely.Geometry:
    """Land that OSM maps as anything: the union of all land-cover polygons.

    What of it is neither settlement nor transport is vegetation & water: besides arable,
    grassland, forest and water, the remaining "other" subclasses (wetland, orchard, sand, …)
    are agriculture, moor, swamp or waste land in the land survey.

    Parameters
    ----------
    layers : LayerSet
    area : shapely.Geometry, optional
        Limits the work to land cover touching it.

    Returns
    -------
    shapely.Geometry
        The dissolved land-cover polygons (EPSG:25833).
    """
    return shapely.union_all(_within(layers["landcover"], area).geometry.values)


def municipal_land_rows(layers: LayerSet) -> pd.DataFrame:
    """Land area (ha) by category per municipality of the layers' boundaries.

    Settlement, transport, vegetation & water and unmapped are disjoint and add up to the land
    area (transport wins over settlement where they overlap, both over open land).

    Returns
    -------
    DataFrame
        Index: municipality names; ``group``, ``land_area_ha``, ``settlement_ha``,
        ``transport_ha``, ``vegetation_water_ha``, ``unmapped_ha``.
    """
    rules = load_stats_rules()
    region_geom = layers.region_geometry
    b = layers["boundaries"]
    geoms = municipal_geometries(b)
    # per tile of a fixed grid, not as unions of the whole region: the same areas, many times
    # faster (default region: 41 s as whole-region unions)
    tiles = grid_tiles(region_geom)
    transport = union_in_tiles(_transport_parts(layers, rules, region_geom), tiles)
    settlement = map_chunks(shapely.difference, union_in_tiles(_settlement_parts(layers, rules, region_geom), tiles),
                            transport)
    mapped = union_in_tiles(np.asarray(_within(layers["landcover"], region_geom).geometry.values), tiles)
    # the settlement is land cover too, and apart from the transport area: so vegetation & water
    # is the mapped land without transport, less the settlement's area (one overlay fewer)
    open_land = map_chunks(shapely.difference, mapped, transport)
    tree = shapely.STRtree(tiles)
    mi, ti = tree.query(geoms, predicate="intersects")
    # each municipality cut into its tiles; a tile wholly inside one is its own piece, and the
    # categories (each clipped to its tile) lie wholly in it: their areas need no overlay
    cut = ~pairs_among((mi, ti), tree.query(geoms, predicate="contains_properly"))
    pieces = map_chunks(shapely.intersection, geoms[mi[cut]], tiles[ti[cut]])

    def per_municipality(category: np.ndarray) -> np.ndarray:
        covered = shapely.area(category[ti])
        covered[cut] = shapely.area(map_chunks(shapely.intersection, pieces, category[ti[cut]]))
        return np.bincount(mi, weights=covered, minlength=len(geoms)) / 1e4

    settlement_ha = per_municipality(settlement)
    rows = pd.DataFrame({
        "group": b["group"].to_numpy(),
        "land_area_ha": shapely.area(geoms) / 1e4,
        "settlement_ha": settlement_ha,
        "transport_ha": per_municipality(transport),
        "vegetation_water_ha": np.maximum(per_municipality(open_land) - settlement_ha, 0.0),
    }, index=pd.Index(b["name"].to_numpy(), name="area"))
    rows["unmapped_ha"] = (rows["land_area_ha"] - rows["settlement_ha"] - rows["transport_ha"]
                           - rows["vegetation_water_ha"]).clip(lower=0.0)
    return rows


def land_statistics(layers: LayerSet, region: Region) -> pd.DataFrame:
    """Land area by category per municipality, per group and for the region, in ha,
    side by side with the baseline figures and the difference in %.

    Parameters
    ----------
    layers : LayerSet
        Its ``land_rows`` when set (a partitioned run), else computed from its features
        (:func:`municipal_land_rows`).
    region : Region
        Its ``baseline`` (``groups``) gives the official figures.

    Returns
    -------
    DataFrame
        Index: municipality names, group names, "Region". Columns: ``<category>`` computed,
        ``<category>_baseline`` and ``<category>_diff_pct`` where the baseline has a figure
        (the baseline has none for ``unmapped_ha``).
    """
    rows = layers.land_rows if layers.land_rows is not None else municipal_land_rows(layers)
    # the region's groups (a part's rows carry its municipality's group)
    groups_of = {m.name: m.group for m in region.municipalities}
    rows = rows.assign(group=[groups_of.get(n, g) for n, g in zip(rows.index, rows["group"], strict=True)])
    groups = rows.groupby("group", sort=False).sum(numeric_only=True)
    total = rows.sum(numeric_only=True).to_frame("Region").T
    table = pd.concat([rows.drop(columns="group"), groups, total])
    table["level"] = ["municipality"] * len(rows) + ["group"] * len(groups) + ["region"]
    baseline = (region.baseline or {}).get("groups", {})
    for cat in CATEGORIES:
        base = pd.Series({g: v.get(cat) for g, v in baseline.items() if v.get(cat) is not None}, dtype=float)
        if len(base) == len(groups) and set(base.index) == set(groups.index):
            base["Region"] = base.sum()
        table[f"{cat}_baseline"] = base.reindex(table.index)
        table[f"{cat}_diff_pct"] = 100 * (table[cat] - table[f"{cat}_baseline"]) / table[f"{cat}_baseline"]
    cols = ["level"] + [c for cat in CATEGORIES for c in (cat, f"{cat}_baseline", f"{cat}_diff_pct")]
    return table[cols].round(1)


def format_statistics(table: pd.DataFrame) -> str:
    """A compact text table: computed vs. baseline (ha) and the difference (%)."""
    lines = [f"{'':16}" + "".join(f"{c.replace('_ha', ''):>28}" for c in CATEGORIES)]
    # unmapped has no baseline figure: its column shows the land OSM leaves blank
    lines.append(f"{'':16}" + "".join(f"{'computed  baseline  diff%':>28}" for _ in CATEGORIES))
    for name, row in table.iterrows():
        cells = []
        for c in CATEGORIES:
            base, diff = row[f"{c}_baseline"], row[f"{c}_diff_pct"]
            base_s = f"{base:9,.0f}" if pd.notna(base) else f"{'-':>9}"
            diff_s = f"{diff:+6.1f}" if pd.notna(diff) else f"{'-':>6}"
            cells.append(f"{row[c]:11,.0f} {base_s} {diff_s}")
        lines.append(f"{str(name)[:16]:16}" + "".join(f"{c:>28}" for c in cells))
    lines.append("ha; baseline: partnership planning guide 2016. Transport from OSM lines × typical widths plus "
                 "railway and aerodrome land; unmapped: land OSM maps as nothing (no baseline category).")
    return "\n".join(lines)
