"""The parcel model: the region as parcels, each with every attribute a siting decision needs.

Parcels come from a parcel file (cadastre, field blocks) when the region config names one
(``sources.parcels``); otherwise they are derived from land cover, split by roads (tracks and
larger), railways, waterways and municipal borders. Attributes are computed once, in
EPSG:25833, with spatial indexes and vectorised shapely 2 operations.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Collection
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from landuse.config import WORKING_CRS
from landuse.errors import DataError
from landuse.geometry import (
    grid_tiles,
    map_chunks,
    map_threads,
    outline_pieces,
    pairs_among,
    query_pairs,
    snap_to_grid,
    subtract_union,
)
from landuse.io import read_vector, repair_geometries
from landuse.layers import LayerSet
from landuse.parameters import PARAMETER_DIR, load_values
from landuse.stats import load_stats_rules, municipal_geometries

log = logging.getLogger(__name__)

#: Land-cover classes that can host a measure; the rest are context.
CANDIDATE_CLASSES = ("arable", "grassland", "forest")
#: Which land cover wins where polygons overlap (higher wins): built-up and water beat open land,
#: special uses ("other": parks, allotments, wetlands, orchards) beat farmland.
CLASS_PRIORITY = {"water": 7, "transport": 6, "industrial": 5, "conversion": 4.5, "residential": 4, "other": 3,
                  "forest": 2, "arable": 1, "grassland": 0}
#: Distance attributes: column → (layer, filter on the layer or None).
DISTANCE_TARGETS = {
    "dist_settlement_m": ("landcover", "`class` == 'residential'"),
    "dist_motorway_m": ("roads", "`class` == 'motorway'"),
    "dist_trunk_primary_m": ("roads", "`class` == 'trunk_primary'"),
    "dist_secondary_m": ("roads", "`class` == 'secondary'"),
    "dist_minor_road_m": ("roads", "`class` == 'minor'"),
    "dist_railway_m": ("railways", None),
    "dist_main_railway_m": ("railways", "main"),
    "dist_power_line_m": ("power_lines", None),
    "dist_forest_m": ("landcover", "`class` == 'forest'"),
    "dist_water_body_m": ("water_bodies", None),
    "dist_waterway_m": ("waterways", "not tunnel"),
    "dist_aerodrome_m": ("aerodromes", "`class` in ['aerodrome', 'runway', 'heliport']"),
    "dist_navigation_aid_m": ("aerodromes", "`class` == 'navigationaid'"),
    "dist_wind_turbine_m": ("existing_plants", "technology == 'wind'"),
}
PROTECTED_TYPES = ("NSG", "LSG", "FFH", "SPA", "NP", "other")
#: Vertex grid (m) of parcel geometries: vertices closer than this merge, so no ring repeats a
#: vertex (QGIS flags vertices closer than 1e-8 as duplicates) and every polygon is valid.
PRECISION_M = 0.001
#: Grid (m) on which road corridors and unmapped land are cut into parcels.
REMAINDER_CELL_M = 1000.0
#: Smallest piece (m²) kept as a parcel: below it, numerical dust of the cuts.
DUST_M2 = 1.0
#: Segments per outline piece of the distance searches: 4 was fastest of 1, 2, 4, 8 and 32
#: (default region).
OUTLINE_PIECE_SEGMENTS = 4
#: OSM ``building`` values that are never dwellings (OSM wiki, Key:building: agricultural,
#: storage, garage and technical buildings); "yes" and unknown values are judged by size.
NON_DWELLING_KINDS = frozenset({
    "barn", "cowshed", "stable", "sty", "farm_auxiliary", "greenhouse", "glasshouse", "silo", "shed", "hut",
    "garage", "garages", "carport", "parking", "roof", "hangar", "warehouse", "industrial", "manufacture",
    "commercial", "retail", "office", "supermarket", "kiosk", "service", "transformer_tower", "water_tower",
    "storage_tank", "bunker", "ruins", "construction", "church", "chapel", "religious", "school", "kindergarten",
    "university", "hospital", "public", "civic", "government", "train_station", "transportation", "sports_hall",
    "toilets", "boathouse", "container", "tent", "digester", "slurry_tank", "tower", "bridge"})
#: OSM ``building`` values that are dwellings whatever their size.
DWELLING_KINDS = frozenset({
    "house", "detached", "semidetached_house", "terrace", "residential", "apartments", "bungalow", "farm",
    "dormitory", "cabin", "static_caravan"})
#: Land-cover subclasses where no building is a dwelling (workplaces, institutions, leisure).
NON_DWELLING_LAND = ("industrial", "commercial", "retail", "military", "railway", "garages", "school",
                     "kindergarten", "university", "college", "hospital", "cemetery", "allotments", "garden",
                     "pitch", "stadium", "sports_centre", "playground", "zoo", "theme_park", "park", "golf_course",
                     "library", "bus_station", "quarry", "landfill", "construction", "religious")


def parcel_settings(overrides: dict | None = None) -> dict:
    """Parcel model settings from ``landuse/parameters/parcels.yaml`` (validated)."""
    return load_values(PARAMETER_DIR / "parcels.yaml", overrides)


def _split_lines(layers: LayerSet) -> tuple[np.ndarray, np.ndarray]:
    """Footprints of the lines that split parcels: roads (tracks and larger), railways and
    open waterways, buffered to their typical width (at least 1 m).

    Returns
    -------
    (ndarray, ndarray)
        The footprints, and True where a footprint is a waterway's (else a road's or railway's).
    """
    widths = load_stats_rules()["widths"]
    roads = layers["roads"]
    roads = roads[~roads["bridge_tunnel"].eq("tunnel")]
    road_w = roads["kind"].map({k: v["value"] for k, v in widths["road_kind"].items()}).fillna(3.0)
    rail = layers["railways"]
    rail = rail[~rail["kind"].eq("subway")]
    rail_w = rail["kind"].map({k: v["value"] for k, v in widths["railway_kind"].items()}).fillna(4.0)
    ww = layers["waterways"]
    ww = ww[~ww["tunnel"].astype(bool)]
    ww_w = ww["class"].map({"river": 10.0, "canal": 8.0, "stream": 3.0}).fillna(2.0)
    geoms = np.concatenate([roads.geometry.values, rail.geometry.values, ww.geometry.values])
    w = np.concatenate([road_w.to_numpy(float), rail_w.to_numpy(float), ww_w.to_numpy(float)])
    is_water = np.repeat([False, False, True], [len(roads), len(rail), len(ww)])
    footprints = map_chunks(lambda g, r: shapely.buffer(g, r, cap_style="flat", quad_segs=2), geoms,
                            np.maximum(w, 1.0) / 2)
    return footprints, is_water


def _stable_ids(ags: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Ids from the municipality key and the geometry (centroid to 1 m, area to 10 m²): the same
    inputs give the same ids on any machine; a parcel keeps its id when others change."""
    c = shapely.centroid(geoms)
    keys = [f"{a}|{x:.0f}|{y:.0f}|{ar:.0f}" for a, x, y, ar in
            zip(ags, np.round(shapely.get_x(c)), np.round(shapely.get_y(c)), np.round(shapely.area(geoms), -1),
                strict=True)]
    ids = np.array([f"{a}-{hashlib.sha1(k.encode()).hexdigest()[:10]}" for a, k in zip(ags, keys, strict=True)],
                   dtype=object)
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():  # identical twins: number them in a deterministic order
        ids[dup] = pd.Series(ids[dup]) + "-" + pd.Series(ids[dup]).groupby(ids[dup]).cumcount().astype(str).to_numpy()
    return ids


def _assign_municipality(parts: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cut parts at municipal borders (nothing outside the region survives) and add ags/name/group.

    The municipal areas are made disjoint first (:func:`landuse.stats.municipal_geometries`):
    where simplified borders overlap, a part would otherwise become two parcels on the same land.
    """
    areas = municipal_geometries(boundaries)
    b_idx, p_idx = parts.sindex.query(areas, predicate="intersects")
    geoms = np.asarray(parts.geometry.values)[p_idx]
    # most parts lie wholly inside their municipality: only those crossing its border are cut
    # (the query prepares each area once; default region: 1.8 of 2.0 CPU-s saved)
    cross = ~pairs_among((b_idx, p_idx), parts.sindex.query(areas, predicate="contains_properly"))
    geoms[cross] = map_chunks(shapely.intersection, geoms[cross], areas[b_idx[cross]])
    out = parts.iloc[p_idx].drop(columns=parts.geometry.name).reset_index(drop=True)
    for col in ("ags", "name", "group"):
        out[col if col != "name" else "municipality"] = boundaries[col].to_numpy()[b_idx]
    out = gpd.GeoDataFrame(out, geometry=geoms, crs=WORKING_CRS)
    out = out.rename(columns={"group": "municipality_group"})
    return out


def _polygon_parts(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Explode to single polygons, dropping lines and points left by cuts."""
    gdf = gdf[~(shapely.is_missing(gdf.geometry.values) | shapely.is_empty(gdf.geometry.values))]
    gdf = gdf.explode(index_parts=False, ignore_index=True)
    return gdf[gdf.geom_type.eq("Polygon")].reset_index(drop=True)


def _snap(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Geometries on the :data:`PRECISION_M` grid: valid, without repeated vertices, single polygons."""
    geoms = map_chunks(_on_grid, np.asarray(gdf.geometry.values))
    return _polygon_parts(gdf.set_geometry(geoms, crs=gdf.crs))


def _on_grid(geoms: np.ndarray) -> np.ndarray:
    # rounded, and snap-rounded only where rounding breaks validity (:func:`snap_to_grid`), not
    # all snap-rounded: the same grid and guarantees, in a quarter of the time (default region:
    # 3.8 s of the 17 s derivation on one thread). Either gives each geometry a fixed precision
    # model, which later GEOS overlays honour, so that parcels read back from the cache (WKB
    # keeps none) would be cut differently from fresh ones (Werdau: by 0.36 m² of wind
    # area); so the model goes back to floating, the vertices stay on the grid.
    return shapely.set_precision(snap_to_grid(geoms, PRECISION_M), 0, mode="pointwise")


def _flatten_order(lc: gpd.GeoDataFrame) -> np.ndarray:
    """Rank of each land-cover polygon where polygons overlap (higher rank wins the overlap).

    Class priority first (:data:`CLASS_PRIORITY`); within one priority the smaller polygon wins
    (a pitch in a park, a pond in a lake, a zoo in a recreation ground: the more specific
    mapping); then the subclass and the geometry itself break ties. The order is total, so every
    overlap goes to exactly one polygon, and it does not depend on the order of the input.
    """
    geoms = lc.geometry.values
    key = pd.DataFrame({"prio": lc["class"].map(CLASS_PRIORITY).fillna(3).to_numpy(),
                        "area": -np.round(shapely.area(geoms), 2),
                        "subclass": lc["subclass"].astype(str).to_numpy(),
                        "wkb": shapely.to_wkb(shapely.normalize(geoms), hex=True)})
    order = key.sort_values(["prio", "area", "subclass", "wkb"], kind="stable").index.to_numpy()
    rank = np.empty(len(lc), dtype=np.int64)
    rank[order] = np.arange(len(lc))
    return rank


def _dissolve_per_cell(cells: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Per cell, the union of ``geoms`` clipped to the cell (an empty polygon where none touches it)."""
    out = np.array([shapely.Polygon()] * len(cells), dtype=object)
    if len(geoms) == 0:
        return out
    ci, gi = shapely.STRtree(geoms).query(cells, predicate="intersects")
    if len(ci) == 0:
        return out
    # a geometry wholly inside its cell is its own piece (most road footprints and small land cover)
    pieces = geoms[gi].copy()
    shapely.prepare(cells)
    cut = ~shapely.contains_properly(cells[ci], pieces)
    pieces[cut] = map_chunks(shapely.intersection, pieces[cut], cells[ci[cut]])
    hit = np.unique(ci)
    out[hit] = map_chunks(_dissolve, shapely.geometrycollections(pieces, indices=np.searchsorted(hit, ci)))
    return out


def _dissolve(collections: np.ndarray) -> np.ndarray:
    return shapely.buffer(collections, 0)


def _remainder(layers: LayerSet, cutters: np.ndarray, is_water: np.ndarray) -> gpd.GeoDataFrame:
    """The land of the municipalities that no land-cover parcel holds: road and railway
    corridors (class transport), waterway corridors (class water), both subclass ``corridor``,
    and land that OSM maps as nothing (class other, subclass ``unmapped``).

    The overlay runs per cell of a :data:`REMAINDER_CELL_M` grid: the corridor network is one
    connected polygon, and dissolving it whole is slow; the cells also cut it into parcels of a
    size the later stages handle well. The grid is fixed in EPSG:25833, so the ids stay stable.
    """
    c = REMAINDER_CELL_M
    pieces = []
    # cells per municipality: a cell on a border is cut there whichever neighbours are in the region
    for area in municipal_geometries(layers["boundaries"]):
        pieces.append(shapely.intersection(grid_tiles(area, tile_m=c), area))
    cells = np.concatenate(pieces) if pieces else np.array([], dtype=object)
    transport = _dissolve_per_cell(cells, cutters[~is_water])
    water = map_chunks(shapely.difference, _dissolve_per_cell(cells, cutters[is_water]), transport)
    mapped = _dissolve_per_cell(cells, layers["landcover"].geometry.values)
    unmapped = map_chunks(lambda cell, *taken: functools.reduce(shapely.difference, taken, cell),
                          cells, mapped, transport, water)
    n = len(cells)
    parts = gpd.GeoDataFrame({"class": np.repeat(["transport", "water", "other"], n),
                              "subclass": np.repeat(["corridor", "corridor", "unmapped"], n), "_rest": True},
                             geometry=np.concatenate([transport, water, unmapped]), crs=WORKING_CRS)
    return _polygon_parts(parts)


def derive_parcels(layers: LayerSet, settings: dict | None = None) -> gpd.GeoDataFrame:
    """Derive parcels from land cover: overlaps resolved by class priority, split by roads,
    railways, waterways and municipal borders; slivers and narrow strips become context parcels.

    The parcels tile the land of the municipalities: besides the land-cover parcels, the road,
    railway and waterway corridors, the slivers (class other, subclass ``sliver``) and land that
    OSM maps as nothing (subclass ``unmapped``) are parcels too, so parcel areas add up to the
    land area; no two parcels overlap and every geometry is valid without repeated vertices.

    Parameters
    ----------
    layers : LayerSet
    settings : dict, optional
        Overrides of ``parcels.yaml`` (``min_area_ha``, ``min_width_m``).

    Returns
    -------
    GeoDataFrame
        One row per parcel (candidate and context classes) with ``class``, ``subclass``,
        ``ags``, ``municipality``, ``municipality_group``; not yet the attributes.
    """
    s = parcel_settings(settings)
    lc = layers["landcover"]
    # only the land cover that reaches a municipality: the rest lies in the margin, where the cuts
    # at the municipal borders drop it (a third of the default region's polygons, 58 % of the
    # vertices for a municipality of Landkreis Leipzig with its margin; the default region's
    # flattening and road cuts 4.5 s to 3.3 s on one thread)
    reach = lc.sindex.query(municipal_geometries(layers["boundaries"]), predicate="intersects")[1]
    lc = lc.iloc[np.unique(reach)].reset_index(drop=True)
    geoms = lc.geometry.values
    # the higher-ranked polygon cuts the lower one (a strict order: no overlap survives, none is cut twice)
    rank = _flatten_order(lc)
    pairs = query_pairs(lc.sindex, geoms, predicate="intersects")
    i, j = pairs
    pairs = pairs[:, rank[j] > rank[i]]
    # a neighbour that only touches cuts nothing: only pairs whose interiors meet are dissolved and
    # subtracted (default region: 7,484 of 18,221 pairs; the flattening 1.05 s to 0.6 s)
    meet = map_chunks(lambda a, b: shapely.relate_pattern(a, b, "T********"), geoms[pairs[0]], geoms[pairs[1]])
    flat = subtract_union(geoms, geoms, pairs[:, meet])
    cutters, is_water = _split_lines(layers)
    tree = shapely.STRtree(cutters)
    flat = subtract_union(flat, cutters, query_pairs(tree, flat, predicate="intersects"))
    parts = gpd.GeoDataFrame({"class": lc["class"].to_numpy(), "subclass": lc["subclass"].to_numpy()},
                             geometry=flat, crs=WORKING_CRS)
    parts = _polygon_parts(parts)
    parts["_rest"] = False
    parts = pd.concat([parts, _remainder(layers, cutters, is_water)], ignore_index=True)
    parts = _snap(_polygon_parts(_assign_municipality(parts, layers["boundaries"])))
    area = parts.geometry.area.to_numpy()
    width = 2 * area / np.maximum(parts.geometry.length.to_numpy(), 1e-9)
    from_rest = parts.pop("_rest").to_numpy(bool)
    sliver = ~from_rest & ((area < s["min_area_ha"] * 1e4) | (width < s["min_width_m"]))
    # slivers stay as context parcels, so the parcels still add up to the land area
    parts.loc[sliver, "class"] = "other"
    parts.loc[sliver, "subclass"] = "sliver"
    dust = area < DUST_M2
    keep = ~dust
    context = sliver | from_rest
    out = pd.concat([parts[keep & ~context], _pool_per_cell(parts[keep & context])], ignore_index=True)
    ha = {k: area[keep & m].sum() / 1e4 for k, m in (
        ("sliver", sliver), ("corridor", from_rest & parts["subclass"].eq("corridor").to_numpy()),
        ("unmapped", from_rest & parts["subclass"].eq("unmapped").to_numpy()))}
    log.info("Derived %d parcels: %d of land cover; as context parcels pooled per %.0f m cell: slivers and strips "
             "(< %.2f ha or narrower than %.0f m) %.0f ha, road, railway and waterway corridors %.0f ha, land OSM maps "
             "as nothing %.0f ha", len(out), (keep & ~context).sum(), REMAINDER_CELL_M, s["min_area_ha"],
             s["min_width_m"], ha["sliver"], ha["corridor"], ha["unmapped"])
    return out


def _pool_per_cell(parts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One parcel per grid cell, municipality, class and subclass from the many small pieces of
    slivers, corridors and unmapped land (tens of thousands of context pieces would triple the
    parcel count for no siting decision)."""
    if parts.empty:
        return parts
    pts = shapely.point_on_surface(parts.geometry.values)
    c = REMAINDER_CELL_M
    key = pd.DataFrame({"cx": np.floor(shapely.get_x(pts) / c), "cy": np.floor(shapely.get_y(pts) / c),
                        "ags": parts["ags"].to_numpy(), "class": parts["class"].to_numpy(),
                        "subclass": parts["subclass"].to_numpy()})
    group = key.groupby(list(key.columns), sort=True).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    first = order[np.searchsorted(group[order], np.unique(group))]
    merged = map_chunks(_dissolve, shapely.geometrycollections(parts.geometry.values[order], indices=group[order]))
    out = parts.iloc[first].reset_index(drop=True).set_geometry(map_chunks(_on_grid, merged), crs=parts.crs)
    return _islands_apart(out)


def _islands_apart(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A part of a multipolygon lying in a hole of another of its parts becomes a parcel of its own.

    GEOS and the OGC rules accept such a multipolygon; QGIS's own validity check compares outer
    rings only and flags it ("polygon lies inside polygon"), so the exports would show it invalid.
    """
    geoms = gdf.geometry.values
    multi = np.flatnonzero(shapely.get_num_geometries(geoms) > 1)
    parts, owner = shapely.get_parts(geoms[multi], return_index=True)
    shells = shapely.polygons(shapely.get_exterior_ring(parts))
    # every part within the shell of another part of its multipolygon: the pairs of one envelope
    # query, the predicate only for parts of the same multipolygon
    si, pi = shapely.STRtree(parts).query(shells)
    same = (owner[si] == owner[pi]) & (si != pi)
    si, pi = si[same], pi[same]
    inside = np.zeros(len(parts), dtype=bool)
    inside[pi[shapely.contains(shells[si], parts[pi])]] = True
    if not inside.any():
        return gdf
    # the parts of a valid multipolygon do not overlap: what stays of each is a multipolygon of
    # them, made in one call (a union of each took 0.2 s); one assignment and one frame of
    # islands follow (row by row, pandas took 0.3 s for 70 islands)
    hit = np.unique(owner[inside])
    stay = np.isin(owner, hit) & ~inside
    rests = shapely.multipolygons(parts[stay], indices=np.searchsorted(hit, owner[stay]))
    single = shapely.get_num_geometries(rests) == 1
    rests[single] = shapely.get_geometry(rests[single], 0)
    out = gdf.copy()
    out.loc[out.index[multi[hit]], out.geometry.name] = rests
    islands = out.iloc[multi[owner[inside]]].set_geometry(parts[inside], crs=out.crs)
    return pd.concat([out, islands], ignore_index=True)


def read_parcel_file(spec: dict, data_dir: Path, layers: LayerSet) -> gpd.GeoDataFrame:
    """Parcels from a file (ALKIS, InVeKoS field blocks): reprojected, repaired, overlaps flagged,
    cut at municipal borders, land-cover class by the largest share of area.

    Parameters
    ----------
    spec : dict
        ``sources.parcels`` of the region config: ``path`` (relative to ``data_dir``), optional
        ``layer``, ``crs``, ``id_field``.
    data_dir : Path
    layers : LayerSet
        Canonical layers (``landcover``, ``boundaries``).

    Returns
    -------
    GeoDataFrame
        Single polygons in EPSG:25833 with ``overlaps``, ``class``, ``subclass``, ``ags``,
        ``municipality``, ``municipality_group`` and the ``id_field`` column if given.

    Raises
    ------
    DataError
        The file is missing, unreadable, lacks the layer, or has no CRS and none is given.
    """
    path = data_dir / spec["path"]
    gdf = read_vector(path, layer=spec.get("layer"), crs=spec.get("crs"), encoding=spec.get("encoding"))
    n_in = len(gdf)
    id_field = spec.get("id_field")
    if id_field:
        if id_field not in gdf.columns:
            columns = ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
            raise DataError(f"{path}: id_field '{id_field}' is not a column of the file; columns: {columns}.")
        ids = gdf[id_field].astype(str)
        dup = ids[ids.duplicated(keep=False)].unique()
        if len(dup):
            shown = ", ".join(repr(d) for d in dup[:3])
            raise DataError(f"{path}: {len(dup)} ids in '{id_field}' are given to more than one parcel (e.g. {shown}); "
                            "make them unique, or drop id_field to use stable ids made from the geometry.")
    gdf = repair_geometries(gdf, str(path)).to_crs(WORKING_CRS)
    gdf = _polygon_parts(gdf[["geometry"] + ([spec["id_field"]] if spec.get("id_field") else [])])
    i, j = gdf.sindex.query(gdf.geometry.values, predicate="overlaps")
    keep = i < j
    overlap_area = shapely.area(shapely.intersection(gdf.geometry.values[i[keep]], gdf.geometry.values[j[keep]]))
    gdf["overlaps"] = np.isin(np.arange(len(gdf)), np.concatenate([i[keep], j[keep]]))
    if keep.any():
        log.warning("%s: %d overlapping parcel pairs (%.1f ha overlap); kept and flagged in 'overlaps'.",
                    path, keep.sum(), overlap_area.sum() / 1e4)
    lc = layers["landcover"]
    pi, li = lc.sindex.query(gdf.geometry.values, predicate="intersects")
    share = shapely.area(shapely.intersection(gdf.geometry.values[pi], lc.geometry.values[li]))
    best = pd.DataFrame({"p": pi, "l": li, "a": share}).sort_values(["p", "a"], ascending=[True, False])
    best = best.drop_duplicates("p")
    gdf["class"], gdf["subclass"] = "other", ""
    gdf.loc[best["p"].to_numpy(), "class"] = lc["class"].to_numpy()[best["l"].to_numpy()]
    gdf.loc[best["p"].to_numpy(), "subclass"] = lc["subclass"].to_numpy()[best["l"].to_numpy()]
    out = _snap(_polygon_parts(_assign_municipality(gdf, layers["boundaries"])))
    log.info("Read %d parcels from %s (%d inside the region after cutting at borders)", n_in, path, len(out))
    return out


def dwelling_mask(buildings: gpd.GeoDataFrame, landcover: gpd.GeoDataFrame,
                  settings: dict | None = None) -> tuple[np.ndarray, pd.Series]:
    """Which buildings are dwellings, as well as the data tell (the 1000 m wind rule protects
    residential buildings, not barns, sheds and garages).

    In order: a building on land where nobody lives (:data:`NON_DWELLING_LAND`: industrial,
    commercial, institutions, leisure) is none; an OSM ``building`` value decides where it
    names a use (:data:`DWELLING_KINDS`, :data:`NON_DWELLING_KINDS`); otherwise ("yes", the only
    value OpenMapTiles gives) the footprint must lie between ``dwelling_min_m2`` (garages, sheds)
    and ``dwelling_max_m2`` (barns, stables, halls), and a known height must reach
    ``dwelling_min_height_m``. A farmyard is judged by the same rules: its house-sized building
    is the farmhouse, its large ones are barns.

    Parameters
    ----------
    buildings : GeoDataFrame
        The ``buildings`` layer (``kind``, ``height_m``), EPSG:25833.
    landcover : GeoDataFrame
        The ``landcover`` layer (``subclass``).
    settings : dict, optional
        Overrides of ``parcels.yaml``.

    Returns
    -------
    (ndarray of bool, Series of str)
        True for dwellings; the reason per building (``dwelling``, ``land_<subclass>``,
        ``kind_<kind>``, ``small``, ``large``, ``low``), on ``buildings``' index.
    """
    s = parcel_settings(settings)
    n = len(buildings)
    if n == 0:
        return np.zeros(0, dtype=bool), pd.Series("dwelling", index=buildings.index, dtype=object)
    reason = np.full(n, "dwelling", dtype=object)
    geoms = buildings.geometry.values
    area = shapely.area(geoms)
    kind = buildings["kind"].astype(str).str.lower().to_numpy() if "kind" in buildings else np.full(n, "yes")
    height = (pd.to_numeric(buildings["height_m"], errors="coerce").to_numpy(float) if "height_m" in buildings
              else np.full(n, np.nan))
    # hashed lookups (np.isin sorts the 200,000 strings of a region)
    by_size = ~pd.Series(kind).isin(DWELLING_KINDS | NON_DWELLING_KINDS).to_numpy()
    reason[by_size & (area < s["dwelling_min_m2"])] = "small"
    reason[by_size & (area > s["dwelling_max_m2"])] = "large"
    reason[by_size & (height < s["dwelling_min_height_m"])] = "low"
    named = pd.Series(kind).isin(NON_DWELLING_KINDS).to_numpy()
    reason[named] = "kind_" + kind[named].astype(object)
    land = landcover[landcover["subclass"].isin(NON_DWELLING_LAND)]
    if len(land):
        # each land polygon queries the tree of building points (prepared once, not per building)
        points = map_chunks(shapely.point_on_surface, np.asarray(geoms))
        li, bi = query_pairs(shapely.STRtree(points), land.geometry.values, predicate="intersects")
        reason[bi] = "land_" + land["subclass"].to_numpy()[li].astype(object)
    return reason == "dwelling", pd.Series(reason, index=buildings.index, dtype=object)


def building_groups(layers: LayerSet, settings: dict | None = None) -> gpd.GeoDataFrame:
    """Dwellings outside settlement areas, grouped by proximity.

    Parameters
    ----------
    layers : LayerSet
        Canonical layers (``buildings``, ``landcover``).
    settings : dict, optional
        Overrides of ``parcels.yaml`` (``dwelling_*``, ``building_group_gap_m``).

    Returns
    -------
    GeoDataFrame
        The dwellings (:func:`dwelling_mask`) that touch no residential land (the settlement
        rules cover those) with ``group_id`` and ``group_size``; groups of ≥
        ``building_group_min`` are residential groups (SächsBO §84), smaller ones single
        outer-area dwellings. Barns, sheds, garages and buildings on industrial, institutional
        or leisure land are not in it.
    """
    s = parcel_settings(settings)
    key = ("building_groups", json.dumps(s, sort_keys=True, default=str))
    memo = getattr(layers, "derived", None)
    inputs = (layers["buildings"], layers["landcover"])
    # kept with the frames they came from: a copy of the set with other buildings builds its own
    if memo is not None and key in memo and all(a is b for a, b in zip(memo[key][0], inputs, strict=True)):
        return memo[key][1]
    groups = _building_groups(layers, s)
    if memo is not None:
        memo[key] = (inputs, groups)
    return groups


def _building_groups(layers: LayerSet, s: dict) -> gpd.GeoDataFrame:
    b = layers["buildings"].reset_index(drop=True)
    lc = layers["landcover"]
    is_dwelling, reason = dwelling_mask(b, lc, s)
    settled = lc[lc["class"].eq("residential")]
    in_settlement = np.zeros(len(b), dtype=bool)
    if len(settled) and len(b):
        # residential polygons query the buildings' tree: each large polygon is prepared once
        hit = query_pairs(shapely.STRtree(b.geometry.values), settled.geometry.values, predicate="intersects")[1]
        in_settlement[hit] = True
    if len(b):
        counts = reason[~in_settlement].value_counts()
        log.info("Outer-area buildings: %d dwellings; not dwellings: %s", int((is_dwelling & ~in_settlement).sum()),
                 ", ".join(f"{k} {v}" for k, v in counts.items() if k != "dwelling") or "none")
    b = b[is_dwelling & ~in_settlement].reset_index(drop=True)
    if b.empty:
        return b.assign(group_id=pd.Series(dtype=int), group_size=pd.Series(dtype=int))
    i, j = query_pairs(b.sindex, b.geometry.values, predicate="dwithin", distance=s["building_group_gap_m"])
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(b), len(b)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    return b.assign(group_id=labels, group_size=sizes[labels])


def nearest_distance(geoms: np.ndarray, targets: np.ndarray, *, max_distance: float = np.inf) -> np.ndarray:
    """Distance (m) from each geometry to the nearest target, exact.

    A geometry that touches or overlaps a target is at 0 (a prepared predicate). Every other
    geometry lies apart from every target, so its distance is the one to the targets' outlines;
    these are searched as short pieces (:func:`landuse.geometry.outline_pieces`), whose tight
    envelopes keep the exact distance computations of the nearest search few (default region:
    about a third less time than a search over the whole features, the same distances).

    Parameters
    ----------
    geoms, targets : ndarray of geometries
        In EPSG:25833.
    max_distance : float, optional
        Search no farther (m): a geometry with no target this close gets NaN. The search is
        bounded, which saves most of the time for a layer whose features are few and far
        (default region, motorways: 1.3 s to 0.5 s, the same distances within the bound).

    Returns
    -------
    ndarray of float
        One distance (m) per geometry, 0 where it touches a target; NaN when there is no target
        (within ``max_distance``).
    """
    out = np.full(len(geoms), np.nan)
    if len(targets) == 0:
        return out
    touching = np.zeros(len(geoms), dtype=bool)
    touching[shapely.STRtree(targets).query(geoms, predicate="intersects")[0]] = True
    out[touching] = 0.0
    apart = np.flatnonzero(~touching & ~shapely.is_empty(geoms))
    pieces = outline_pieces(targets, max_segments=OUTLINE_PIECE_SEGMENTS)
    if len(apart) and len(pieces):
        bound = {"max_distance": max_distance} if np.isfinite(max_distance) else {}
        (gi, _), dist = shapely.STRtree(pieces).query_nearest(geoms[apart], return_distance=True, all_matches=False,
                                                              **bound)
        out[apart[gi]] = dist
    return out


def protected_shares(parcels: gpd.GeoDataFrame, protected: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share (0–1) of each parcel's area inside each protected-area type.

    Parameters
    ----------
    parcels : GeoDataFrame
        In EPSG:25833.
    protected : GeoDataFrame
        The ``protected_areas`` layer; a ``type`` outside :data:`PROTECTED_TYPES` counts as
        ``other``.

    Returns
    -------
    DataFrame
        ``protected_<type>_share`` per type of :data:`PROTECTED_TYPES`, on the parcels' index.
    """
    out = pd.DataFrame(0.0, index=parcels.index, columns=[f"protected_{t}_share" for t in PROTECTED_TYPES])
    if protected.empty:
        return out
    pi, ai = protected.sindex.query(parcels.geometry.values, predicate="intersects")
    area = shapely.area(shapely.intersection(parcels.geometry.values[pi], protected.geometry.values[ai]))
    types = protected["type"].where(protected["type"].isin(PROTECTED_TYPES), "other").to_numpy()[ai]
    sums = pd.DataFrame({"p": pi, "t": types, "a": area}).groupby(["p", "t"])["a"].sum().unstack(fill_value=0.0)
    parcel_area = parcels.geometry.area.to_numpy()
    for t in sums.columns:
        out.iloc[sums.index.to_numpy(), out.columns.get_loc(f"protected_{t}_share")] = np.minimum(
            sums[t].to_numpy() / parcel_area[sums.index.to_numpy()], 1.0)
    return out


def _robust_lengths(lines: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Length (m) of each line inside its zone where GEOS's overlay trips on some inputs (lines
    rejoined from tile pieces can hold near-coincident vertices).

    The failing pairs are found by halving (the others stay exact, in vectorised calls); each is
    intersected on a 1 cm grid, which moves its length by well under a metre; a pair that still
    fails counts 0 and is logged.
    """
    out = np.zeros(len(lines))
    failed = 0
    todo = [np.arange(len(lines))]
    while todo:
        part = todo.pop()
        try:
            out[part] = shapely.length(shapely.intersection(lines[part], zones[part]))
            continue
        except shapely.errors.GEOSException:
            if len(part) > 1:
                todo += np.array_split(part, 2)
                continue
        k = part[0]
        try:
            out[k] = shapely.length(shapely.intersection(shapely.set_precision(lines[k], 0.01),
                                                         shapely.buffer(zones[k], 0), grid_size=0.01))
        except shapely.errors.GEOSException:
            failed += 1
    if failed:
        log.warning("waterway length: %d line/parcel pairs could not be intersected (counted 0 m)", failed)
    return out


def waterway_length(parcels: gpd.GeoDataFrame, waterways: gpd.GeoDataFrame, strip_m: float) -> np.ndarray:
    """Length (m) of open waterway inside each parcel or along it (within ``strip_m`` of its edge).

    Parameters
    ----------
    parcels : GeoDataFrame
        In EPSG:25833.
    waterways : GeoDataFrame
        The ``waterways`` layer; culverts (``tunnel``) do not count.
    strip_m : float
        Width (m) of the strip around each parcel.

    Returns
    -------
    ndarray of float
        Length (m) per parcel, in the parcels' order.
    """
    out = np.zeros(len(parcels))
    ww = waterways[~waterways["tunnel"].astype(bool)]
    if ww.empty:
        return out
    geoms = np.asarray(parcels.geometry.values)
    # only parcels within reach of a waterway get their strip (a buffer of every parcel costs seconds)
    near = np.unique(ww.sindex.query(geoms, predicate="dwithin", distance=strip_m)[0])
    zones = map_chunks(lambda g: shapely.buffer(g, strip_m, quad_segs=2), geoms[near])
    zi, wi = ww.sindex.query(zones, predicate="intersects")
    lines = ww.geometry.values[wi]
    try:
        lengths = map_chunks(lambda a, b: shapely.length(shapely.intersection(a, b)), lines, zones[zi])
    except shapely.errors.GEOSException:
        lengths = _robust_lengths(lines, zones[zi])
    np.add.at(out, near[zi], lengths)
    return out


def geojson_polygons(geoms: np.ndarray) -> list[dict]:
    """GeoJSON-like mappings of (multi)polygons, built from shapely's ragged arrays: Polygon
    mappings when every geometry is a polygon, else MultiPolygon mappings for all.

    Several times faster than each geometry's ``__geo_interface__``, which ``rasterize`` would
    otherwise call once per parcel and raster (default region: 1.6 s once instead of about 2 s
    for each of eight rasters).
    """
    kind, coords, offsets = shapely.to_ragged_array(np.asarray(geoms))
    xy = coords.tolist()
    rings = [xy[a:b] for a, b in itertools.pairwise(offsets[0])]
    polygons = [rings[a:b] for a, b in itertools.pairwise(offsets[1])]
    if kind == shapely.GeometryType.POLYGON:  # only single polygons: no third level
        return [{"type": "Polygon", "coordinates": p} for p in polygons]
    return [{"type": "MultiPolygon", "coordinates": polygons[a:b]} for a, b in itertools.pairwise(offsets[2])]


def parcel_ids_on_grid(parcels: gpd.GeoDataFrame, transform: rasterio.Affine, shape: tuple[int, int], *,
                       memo: dict | None = None) -> np.ndarray:
    """Raster of parcel positions + 1 (0 outside every parcel) on a grid: a cell belongs to the
    parcel that holds its centre.

    ``memo`` keeps the GeoJSON of the parcels and the raster of each grid already seen, so rasters
    on the same grid (the soil pair, the two water-balance periods, DEM and slope) share one.
    """
    memo = {} if memo is None else memo
    key = (tuple(transform), tuple(shape))
    if key not in memo:
        if "shapes" not in memo:
            memo["shapes"] = geojson_polygons(parcels.geometry.values)
        memo[key] = rasterio.features.rasterize(zip(memo["shapes"], range(1, len(parcels) + 1), strict=True),
                                                out_shape=shape, transform=transform, fill=0, dtype="int32")
    return memo[key]


def raster_statistics(parcels: gpd.GeoDataFrame, path: str | os.PathLike, name: str, *,
                      memo: dict | None = None) -> pd.DataFrame:
    """Mean, min, max of a raster over each parcel and the share of nodata cells.

    Cells count when their centre lies in the parcel; a parcel that holds no cell centre takes
    the value of the cell under its representative point.

    Parameters
    ----------
    parcels : GeoDataFrame
        In the raster's CRS (EPSG:25833 for rasters of the layer store).
    path : path-like
        Single-band raster; band 1 is read.
    name : str
        Prefix of the columns.
    memo : dict, optional
        Shared by the calls for one parcel set (see :func:`parcel_ids_on_grid`).

    Returns
    -------
    DataFrame
        ``<name>_mean``, ``<name>_min``, ``<name>_max``, ``<name>_nodata_share`` (0–1), on the
        parcels' index.
    """
    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float64)
        if src.nodata is not None and not np.isnan(src.nodata):
            data[data == src.nodata] = np.nan
        transform, shape = src.transform, src.shape
    ids = parcel_ids_on_grid(parcels, transform, shape, memo=memo)
    flat_ids, flat = ids.ravel(), data.ravel()
    inside = flat_ids > 0
    frame = pd.DataFrame({"p": flat_ids[inside] - 1, "v": flat[inside]})
    g = frame.groupby("p")["v"]
    res = pd.DataFrame(index=pd.RangeIndex(len(parcels)))
    res[f"{name}_mean"] = g.mean()
    res[f"{name}_min"] = g.min()
    res[f"{name}_max"] = g.max()
    res[f"{name}_nodata_share"] = frame["v"].isna().groupby(frame["p"]).mean()
    missing = res[f"{name}_nodata_share"].isna().to_numpy()
    if missing.any():
        pts = shapely.point_on_surface(parcels.geometry.values[missing])
        rows, cols = rasterio.transform.rowcol(transform, shapely.get_x(pts), shapely.get_y(pts))
        rows, cols = np.asarray(rows), np.asarray(cols)
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        vals = np.full(missing.sum(), np.nan)
        vals[ok] = data[rows[ok], cols[ok]]
        for stat in ("mean", "min", "max"):
            res.loc[missing, f"{name}_{stat}"] = vals
        res.loc[missing, f"{name}_nodata_share"] = np.isnan(vals).astype(float)
    res.index = parcels.index
    return res


def slope_raster(dem_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Slope (degrees) of a DEM in EPSG:25833.

    Parameters
    ----------
    dem_path : path-like
        Elevation raster (m) in a metric CRS (EPSG:25833).
    out_path : path-like
        Slope raster written (float32, the DEM's grid, nodata NaN).

    Returns
    -------
    Path
        ``out_path``.
    """
    with rasterio.open(dem_path) as src:
        dem = src.read(1).astype(np.float64)
        profile = src.profile
        dx, dy = src.res
    gy, gx = np.gradient(dem, dy, dx)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    profile.update(dtype="float32", nodata=np.nan)
    with rasterio.open(out_path, "w", **profile) as dst:
        dst.write(slope, 1)
    return Path(out_path)


def layer_reach_m(layers: LayerSet, layer: str) -> float:
    """How far (m) around the region the store holds every feature of ``layer`` (its manifest's
    ``reach_m``, else the margin; infinite for a store without either).

    Distances are capped there: a feature farther out may be missing, and the cap makes a
    municipality's distances the same in every region it is part of (``≥ reach`` for all).
    """
    manifest = layers.manifest or {}
    reach = (manifest.get("reach_m") or {}).get(layer, manifest.get("margin_m"))
    return float(reach) if reach else np.inf


def _capped(distance: np.ndarray, layers: LayerSet, layer: str) -> np.ndarray:
    """Distances capped at the layer's reach; none within reach reads as the reach, while an empty
    layer stays unknown (NaN: its criteria give their weight to the others)."""
    if layers[layer].empty:
        return distance
    reach = layer_reach_m(layers, layer)
    return np.where(np.isnan(distance), reach, np.minimum(distance, reach))


def parcel_attributes(parcels: gpd.GeoDataFrame, layers: LayerSet, settings: dict | None = None, *,
                      site_classes: Collection[str] | None = None) -> gpd.GeoDataFrame:
    """Add every siting attribute to parcels (on the input's index).

    Columns: ``area_ha``, ``perimeter_m``, ``compactness`` (4πA/P², 1 for a circle),
    ``width_m`` (2A/P), distances (m) to each target of :data:`DISTANCE_TARGETS` and to
    residential building groups (``dist_building_group_m``) and single buildings
    (``dist_single_building_m``) outside settlements, protected-area shares, waterway length
    along the parcel (``waterway_length_m``), raster statistics for each raster of the store.
    Distances use features in the layer margin, across the region's border, and are capped at
    the layer's reach (:func:`layer_reach_m`; a value equal to the reach reads "at least").

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcel geometries in EPSG:25833.
    layers : LayerSet
        Canonical layers with margin and rasters; a DEM (``dem``) adds ``slope_deg``,
        written beside it.
    settings : dict, optional
        Overrides of ``parcels.yaml``.
    site_classes : collection of str, optional
        The land-cover classes a technology of the run can use (the union of the rule sets'
        ``eligible_classes``). Only their parcels get the siting attributes (distances,
        protected shares, waterway length, raster statistics), which are empty (NaN) for the
        others: no rule reads them there. Default: every parcel. The context parcels (road and
        waterway corridors, settlements, land OSM maps as nothing) hold most of the vertices
        (default region: 85 %), which the nearest searches and the rasterising cost scale with.

    Returns
    -------
    GeoDataFrame
        ``parcels`` with the attribute columns and ``site`` (True where the siting attributes
        are computed), EPSG:25833.
    """
    out = parcels.copy()
    geoms = np.asarray(out.geometry.values)
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    out["area_ha"] = area / 1e4
    out["perimeter_m"] = perim
    out["compactness"] = 4 * np.pi * area / np.maximum(perim, 1e-9) ** 2
    out["width_m"] = 2 * area / np.maximum(perim, 1e-9)
    site = np.ones(len(out), dtype=bool) if site_classes is None else out["class"].isin(list(site_classes)).to_numpy()
    out["site"] = site
    siting = _siting_attributes(out[site], layers, parcel_settings(settings))
    return gpd.GeoDataFrame(pd.concat([out, siting.reindex(out.index)], axis=1),
                            geometry=parcels.geometry.name, crs=WORKING_CRS)


def _siting_attributes(sites: gpd.GeoDataFrame, layers: LayerSet, s: dict) -> pd.DataFrame:
    """Distances, protected shares, waterway length and raster statistics of ``sites`` (on their index)."""
    geoms = np.asarray(sites.geometry.values)
    out = pd.DataFrame(index=sites.index)
    targets = {}
    for col, (layer, query) in DISTANCE_TARGETS.items():
        src = layers[layer]
        if query and len(src):
            src = src.query(query)
        targets[col] = (layer, np.asarray(src.geometry.values))
    groups = building_groups(layers, s)
    is_group = groups["group_size"].to_numpy() >= s["building_group_min"]
    targets["dist_building_group_m"] = ("buildings", np.asarray(groups.geometry.values[is_group]))
    targets["dist_single_building_m"] = ("buildings", np.asarray(groups.geometry.values[~is_group]))
    # each search costs about the same (the parcels' vertices dominate): one per thread
    # bounded by the reach: farther distances are capped to it anyway
    distances = map_threads(lambda target: nearest_distance(geoms, target[1],
                                                            max_distance=layer_reach_m(layers, target[0])),
                            targets.values())
    for (col, (layer, _)), distance in zip(targets.items(), distances, strict=True):
        out[col] = _capped(distance, layers, layer)
    out = pd.concat([out, protected_shares(sites, layers["protected_areas"])], axis=1)
    out["waterway_length_m"] = waterway_length(sites, layers["waterways"], s["riparian_strip_m"])
    rasters = dict(layers.rasters)
    if "dem" in rasters:
        rasters["slope_deg"] = slope_raster(rasters["dem"], Path(rasters["dem"]).with_name("slope_deg.tif"))
    grids: dict = {}
    for name, path in rasters.items():
        if Path(path).exists():
            out = pd.concat([out, raster_statistics(sites, path, name, memo=grids)], axis=1)
        else:
            log.warning("Raster %s (%s) is missing: rebuild the layer store (landuse layers --force).", name, path)
    return out


def build_parcels(layers: LayerSet, parcels_source: dict | None = None, data_dir: Path | None = None,
                  settings: dict | None = None, *, site_classes: Collection[str] | None = None) -> gpd.GeoDataFrame:
    """The parcel model: parcels (from a file or derived) with stable ids and all attributes.

    Parameters
    ----------
    layers : LayerSet
        Canonical layers (with margin).
    parcels_source : dict, optional
        ``sources.parcels`` of the region config (``path``, optional ``layer``, ``crs``,
        ``id_field``); without it parcels are derived from land cover.
    data_dir : Path, optional
        Base of ``parcels_source['path']``.
    settings : dict, optional
        Overrides of ``parcels.yaml``.
    site_classes : collection of str, optional
        Classes whose parcels get the siting attributes (:func:`parcel_attributes`; default: all).

    Returns
    -------
    GeoDataFrame
        Indexed by ``parcel_id`` (stable), sorted by municipality and id, EPSG:25833;
        ``candidate`` is True for arable, grassland and forest.
    """
    if parcels_source:
        if data_dir is None:
            raise DataError("A parcel file needs a data directory (--data).")
        parcels = read_parcel_file(parcels_source, data_dir, layers)
        id_field = parcels_source.get("id_field")
    else:
        parcels = derive_parcels(layers, settings)
        id_field = None
    with_open_land = set(parcels["municipality"][parcels["class"].isin(CANDIDATE_CLASSES)].unique())
    for name in layers["boundaries"]["name"]:
        if name not in with_open_land:
            log.warning("Municipality %s has no open land (arable, grassland, forest) in the parcel model.", name)
    invalid = ~map_chunks(shapely.is_valid, np.asarray(parcels.geometry.values))
    if invalid.any():
        # pieces rejoined from vector tiles can touch themselves after snapping; buffer(0) mends a
        # polygon without moving its outline (areas change by well under 0.01 %)
        log.warning("%d parcels had invalid geometry (self-touching rings): repaired", int(invalid.sum()))
        parcels.loc[parcels.index[invalid], parcels.geometry.name] = shapely.buffer(
            parcels.geometry.values[invalid], 0)
    ids = _stable_ids(parcels["ags"].to_numpy(), parcels.geometry.values)
    if id_field:
        ids = parcels[id_field].astype(str).to_numpy()
        ids = np.where(pd.Series(ids).duplicated(keep=False), ids + "-" + parcels["ags"].to_numpy(), ids)
    parcels["parcel_id"] = ids
    parcels = parcels.sort_values(["ags", "parcel_id"]).set_index("parcel_id")
    parcels["candidate"] = parcels["class"].isin(CANDIDATE_CLASSES)
    return parcel_attributes(parcels, layers, settings, site_classes=site_classes)

def parcel_summary(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parcel count and area (ha) per municipality and land-cover class, candidates only."""
    cand = parcels[parcels["candidate"]]
    table = cand.pivot_table(index="municipality", columns="class", values="area_ha", aggfunc="sum", fill_value=0.0)
    table.insert(0, "parcels", cand.groupby("municipality").size())
    table["candidate_ha"] = table[[c for c in CANDIDATE_CLASSES if c in table.columns]].sum(axis=1)
    return table.round(1)
