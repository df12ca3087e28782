"""The parcel model: the region as parcels, each with every attribute a siting decision needs.

Parcels come from a parcel file (cadastre, field blocks) when the region config names one
(``sources.parcels``); otherwise they are derived from land cover, split by roads (tracks and
larger), railways, waterways and municipal borders. Attributes are computed once, in
EPSG:25833, with spatial indexes and vectorised shapely 2 operations.
"""

from __future__ import annotations

import hashlib
import logging
import os
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
from landuse.geometry import subtract_union
from landuse.io import read_vector, repair_geometries
from landuse.layers import LayerSet
from landuse.parameters import PARAMETER_DIR, load_values
from landuse.stats import load_stats_rules

log = logging.getLogger(__name__)

#: Land-cover classes that can host a measure; the rest are context.
CANDIDATE_CLASSES = ("arable", "grassland", "forest")
#: Which land cover wins where polygons overlap (higher wins): built-up and water beat open land,
#: special uses ("other": parks, allotments, wetlands, orchards) beat farmland.
CLASS_PRIORITY = {"water": 7, "transport": 6, "industrial": 5, "residential": 4, "other": 3,
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


def parcel_settings(overrides: dict | None = None) -> dict:
    """Parcel model settings from ``landuse/parameters/parcels.yaml`` (validated)."""
    return load_values(PARAMETER_DIR / "parcels.yaml", overrides)


def _split_lines(layers: LayerSet) -> np.ndarray:
    """Footprints of the lines that split parcels: roads (tracks and larger), railways and
    open waterways, buffered to their typical width (at least 1 m)."""
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
    return shapely.buffer(geoms, np.maximum(w, 1.0) / 2, cap_style="flat", quad_segs=2)


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
    """Cut parts at municipal borders (nothing outside the region survives) and add ags/name/group."""
    b_idx, p_idx = parts.sindex.query(boundaries.geometry.values, predicate="intersects")
    geoms = shapely.intersection(parts.geometry.values[p_idx], boundaries.geometry.values[b_idx])
    out = parts.iloc[p_idx].drop(columns=parts.geometry.name).reset_index(drop=True)
    for col in ("ags", "name", "group"):
        out[col if col != "name" else "municipality"] = boundaries[col].to_numpy()[b_idx]
    out = gpd.GeoDataFrame(out, geometry=geoms, crs=WORKING_CRS)
    out = out.rename(columns={"group": "municipality_group"})
    return out


def _polygon_parts(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Explode to single polygons, dropping lines and points left by cuts."""
    gdf = gdf[~shapely.is_empty(gdf.geometry.values)]
    gdf = gdf.explode(index_parts=False, ignore_index=True)
    return gdf[gdf.geom_type.eq("Polygon")].reset_index(drop=True)


def derive_parcels(layers: LayerSet, settings: dict | None = None) -> gpd.GeoDataFrame:
    """Derive parcels from land cover: overlaps resolved by class priority, split by roads,
    railways, waterways and municipal borders, slivers and narrow strips dropped.

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
    lc = layers["landcover"].reset_index(drop=True)
    prio = lc["class"].map(CLASS_PRIORITY).fillna(3).to_numpy()
    geoms = lc.geometry.values
    # land cover of a higher priority cuts the lower one
    i, j = lc.sindex.query(geoms, predicate="intersects")
    pairs = np.vstack([i, j])
    higher = (prio[j] > prio[i]) | ((prio[j] == prio[i]) & (j > i) & (lc["class"].to_numpy()[i] != "other"))
    flat = subtract_union(geoms, geoms, pairs[:, higher])
    cutters = _split_lines(layers)
    tree = shapely.STRtree(cutters)
    i, j = tree.query(flat, predicate="intersects")
    flat = subtract_union(flat, cutters, np.vstack([i, j]))
    parts = gpd.GeoDataFrame({"class": lc["class"].to_numpy(), "subclass": lc["subclass"].to_numpy()},
                             geometry=flat, crs=WORKING_CRS)
    parts = _polygon_parts(parts)
    parts = _polygon_parts(_assign_municipality(parts, layers["boundaries"]))
    area = parts.geometry.area.to_numpy()
    width = 2 * area / np.maximum(parts.geometry.length.to_numpy(), 1e-9)
    keep = (area >= s["min_area_ha"] * 1e4) & (width >= s["min_width_m"])
    log.info("Derived %d parcels; dropped %d slivers/strips (< %.2f ha or narrower than %.0f m), %.0f ha",
             keep.sum(), (~keep).sum(), s["min_area_ha"], s["min_width_m"], area[~keep].sum() / 1e4)
    return parts[keep].reset_index(drop=True)


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
    out = _polygon_parts(_assign_municipality(gdf, layers["boundaries"]))
    log.info("Read %d parcels from %s (%d inside the region after cutting at borders)", n_in, path, len(out))
    return out


def building_groups(layers: LayerSet, settings: dict | None = None) -> gpd.GeoDataFrame:
    """Buildings outside settlement areas, grouped by proximity.

    Parameters
    ----------
    layers : LayerSet
        Canonical layers (``buildings``, ``landcover``).
    settings : dict, optional
        Overrides of ``parcels.yaml`` (``min_building_m2``, ``building_group_gap_m``).

    Returns
    -------
    GeoDataFrame
        The buildings (≥ ``min_building_m2``) outside residential, industrial and other built-up
        land cover, with ``group_id`` and ``group_size``; groups of ≥ ``building_group_min`` are
        residential groups (SächsBO §84), smaller ones single outer-area buildings.
    """
    s = parcel_settings(settings)
    b = layers["buildings"]
    b = b[b.geometry.area.to_numpy() >= s["min_building_m2"]].reset_index(drop=True)
    rules = load_stats_rules()
    lc = layers["landcover"]
    built = lc[lc["class"].isin(["residential", "industrial"]) | lc["subclass"].isin(rules["settlement_subclasses"])]
    if len(built) and len(b):
        bi, _ = built.sindex.query(b.geometry.values, predicate="intersects")
        b = b.drop(index=np.unique(bi)).reset_index(drop=True)
    if b.empty:
        return b.assign(group_id=pd.Series(dtype=int), group_size=pd.Series(dtype=int))
    i, j = b.sindex.query(b.geometry.values, predicate="dwithin", distance=s["building_group_gap_m"])
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(b), len(b)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    return b.assign(group_id=labels, group_size=sizes[labels])


def nearest_distance(geoms: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distance (m) from each geometry to the nearest target.

    Parameters
    ----------
    geoms, targets : ndarray of geometries
        In EPSG:25833.

    Returns
    -------
    ndarray of float
        One distance (m) per geometry, 0 where it touches a target; NaN when there is no target.
    """
    if len(targets) == 0:
        return np.full(len(geoms), np.nan)
    tree = shapely.STRtree(targets)
    (gi, _), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    out = np.full(len(geoms), np.nan)
    out[gi] = dist
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
    zones = shapely.buffer(parcels.geometry.values, strip_m, quad_segs=2)
    zi, wi = ww.sindex.query(zones, predicate="intersects")
    lengths = shapely.length(shapely.intersection(ww.geometry.values[wi], zones[zi]))
    np.add.at(out, zi, lengths)
    return out


def raster_statistics(parcels: gpd.GeoDataFrame, path: str | os.PathLike, name: str) -> pd.DataFrame:
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
    ids = rasterio.features.rasterize(
        zip(parcels.geometry.values, range(1, len(parcels) + 1), strict=True),
        out_shape=shape, transform=transform, fill=0, dtype="int32")
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


def parcel_attributes(parcels: gpd.GeoDataFrame, layers: LayerSet, settings: dict | None = None) -> gpd.GeoDataFrame:
    """Add every siting attribute to parcels (on the input's index).

    Columns: ``area_ha``, ``perimeter_m``, ``compactness`` (4πA/P², 1 for a circle),
    ``width_m`` (2A/P), distances (m) to each target of :data:`DISTANCE_TARGETS` and to
    residential building groups (``dist_building_group_m``) and single buildings
    (``dist_single_building_m``) outside settlements, protected-area shares, waterway length
    along the parcel (``waterway_length_m``), raster statistics for each raster of the store.
    Distances use features in the layer margin, across the region's border.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcel geometries in EPSG:25833.
    layers : LayerSet
        Canonical layers with margin and rasters; a DEM (``dem``) adds ``slope_deg``,
        written beside it.
    settings : dict, optional
        Overrides of ``parcels.yaml``.

    Returns
    -------
    GeoDataFrame
        ``parcels`` with the attribute columns, EPSG:25833.
    """
    s = parcel_settings(settings)
    out = parcels.copy()
    geoms = out.geometry.values
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    out["area_ha"] = area / 1e4
    out["perimeter_m"] = perim
    out["compactness"] = 4 * np.pi * area / np.maximum(perim, 1e-9) ** 2
    out["width_m"] = 2 * area / np.maximum(perim, 1e-9)
    for col, (layer, query) in DISTANCE_TARGETS.items():
        src = layers[layer]
        if query and len(src):
            src = src.query(query)
        out[col] = nearest_distance(geoms, src.geometry.values)
    groups = building_groups(layers, s)
    is_group = groups["group_size"].to_numpy() >= s["building_group_min"]
    out["dist_building_group_m"] = nearest_distance(geoms, groups.geometry.values[is_group])
    out["dist_single_building_m"] = nearest_distance(geoms, groups.geometry.values[~is_group])
    out = pd.concat([out, protected_shares(out, layers["protected_areas"])], axis=1)
    out["waterway_length_m"] = waterway_length(out, layers["waterways"], s["riparian_strip_m"])
    rasters = dict(layers.rasters)
    if "dem" in rasters:
        rasters["slope_deg"] = slope_raster(rasters["dem"], Path(rasters["dem"]).with_name("slope_deg.tif"))
    for name, path in rasters.items():
        if Path(path).exists():
            out = pd.concat([out, raster_statistics(out, path, name)], axis=1)
        else:
            log.warning("Raster %s (%s) is missing: rebuild the layer store (landuse layers --force).", name, path)
    return gpd.GeoDataFrame(out, geometry=parcels.geometry.name, crs=WORKING_CRS)


def build_parcels(layers: LayerSet, parcels_source: dict | None = None, data_dir: Path | None = None,
                  settings: dict | None = None) -> gpd.GeoDataFrame:
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
    for name in layers["boundaries"]["name"]:
        if not ((parcels["municipality"] == name) & parcels["class"].isin(CANDIDATE_CLASSES)).any():
            log.warning("Municipality %s has no open land (arable, grassland, forest) in the parcel model.", name)
    ids = _stable_ids(parcels["ags"].to_numpy(), parcels.geometry.values)
    if id_field:
        ids = parcels[id_field].astype(str).to_numpy()
        ids = np.where(pd.Series(ids).duplicated(keep=False), ids + "-" + parcels["ags"].to_numpy(), ids)
    parcels["parcel_id"] = ids
    parcels = parcels.sort_values(["ags", "parcel_id"]).set_index("parcel_id")
    parcels["candidate"] = parcels["class"].isin(CANDIDATE_CLASSES)
    return parcel_attributes(parcels, layers, settings)

def parcel_summary(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parcel count and area (ha) per municipality and land-cover class, candidates only."""
    cand = parcels[parcels["candidate"]]
    table = cand.pivot_table(index="municipality", columns="class", values="area_ha", aggfunc="sum", fill_value=0.0)
    table.insert(0, "parcels", cand.groupby("municipality").size())
    table["candidate_ha"] = table[[c for c in CANDIDATE_CLASSES if c in table.columns]].sum(axis=1)
    return table.round(1)
