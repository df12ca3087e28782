"""Vectorised geometry operations shared by the stages (shapely 2 arrays, EPSG:25833)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import WORKING_CRS

#: Segments per quarter circle of every buffer: polygon edges stay within 0.12 % of the
#: radius inside the true circle (1 - cos(pi/64): 1.2 m at 1000 m); at the vertices it is exact.
QUAD_SEGS = 16


def subtract_union(targets: np.ndarray, cutters: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``targets[i]`` minus the union of ``cutters[j]`` for each pair (i, j), vectorised.

    Cutters are gathered per target into one GeometryCollection (built in one call), which
    ``buffer(0)`` dissolves; one vectorised difference follows.

    Parameters
    ----------
    targets, cutters : ndarray of geometries
    pairs : ndarray of shape (2, n)
        Index pairs (target, cutter).

    Returns
    -------
    ndarray
        The cut targets (targets without a pair are returned unchanged).
    """
    out = targets.copy()
    if pairs.shape[1] == 0:
        return out
    order = np.argsort(pairs[0], kind="stable")
    ti, cj = pairs[0][order], pairs[1][order]
    hit = np.unique(ti)
    collections = shapely.geometrycollections(cutters[cj], indices=np.searchsorted(hit, ti))
    cut = shapely.buffer(collections, 0)
    out[hit] = shapely.difference(targets[hit], cut)
    return out


def cut(geoms: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Each geometry minus the union of the zones it touches.

    Zones are clipped to each geometry's envelope before they are dissolved: the result is the
    same, and dissolving thousands of 1 km circles shrinks to dissolving their small pieces
    (wind, default region: 2 s instead of 40 s per rule).

    Parameters
    ----------
    geoms, zones : ndarray of geometries

    Returns
    -------
    ndarray
    """
    if len(zones) == 0 or len(geoms) == 0:
        return geoms
    i, j = shapely.STRtree(zones).query(geoms, predicate="intersects")
    if len(i) == 0:
        return geoms
    pieces = shapely.intersection(zones[j], shapely.envelope(geoms)[i])
    return subtract_union(geoms, pieces, np.vstack([i, np.arange(len(i))]))


def clean(geoms: np.ndarray, *, min_m2: float = 1.0) -> np.ndarray:
    """Drop slivers (< ``min_m2``) and non-polygon leftovers of cuts; empty polygons stay in place.

    Parameters
    ----------
    geoms : ndarray of geometries
    min_m2 : float
        Smallest polygon part kept (m²).

    Returns
    -------
    ndarray
        (Multi)polygons, one per input.
    """
    polys, idx = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(polys) == 3) & (shapely.area(polys) >= min_m2)
    out = np.empty(len(geoms), dtype=object)
    if keep.any():
        shapely.multipolygons(polys[keep], indices=idx[keep], out=out)
    out[pd.isna(out)] = shapely.Polygon()
    return out


def band_shares(areas: np.ndarray, lines: np.ndarray, widths: tuple[float, ...]) -> np.ndarray:
    """Share of each area within ``widths[0]`` of the lines, between consecutive widths, and beyond.

    Parameters
    ----------
    areas, lines : ndarray of geometries
    widths : tuple of float
        Increasing band widths (m).

    Returns
    -------
    ndarray of shape (len(areas), len(widths) + 1)
        Shares 0–1 per band; NaN for empty areas.
    """
    area = shapely.area(areas)
    out = np.zeros((len(areas), len(widths) + 1))
    inner_prev = np.zeros(len(areas))
    for b, w in enumerate(widths):
        zones = shapely.buffer(lines, w, quad_segs=QUAD_SEGS) if len(lines) else lines
        inside = area - shapely.area(cut(areas, zones))
        out[:, b] = inside - inner_prev
        inner_prev = inside
    out[:, -1] = area - inner_prev
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area[:, None] > 0, out / np.maximum(area[:, None], 1e-9), np.nan)


def drop_small_patches(areas: np.ndarray, min_m2: float, *, groups: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Remove patches (contiguous across the areas) smaller than ``min_m2``.

    Parameters
    ----------
    areas : ndarray of geometries
        Polygons in EPSG:25833.
    min_m2 : float
        Smallest patch kept (m²); nothing is removed when ≤ 0.
    groups : ndarray, optional
        A label per area (e.g. the AGS): patches are formed within each group only, so a patch
        does not depend on the areas of another municipality.

    Returns
    -------
    (ndarray, ndarray)
        The remaining areas and the share of each area removed (0–1).
    """
    area = shapely.area(areas)
    if min_m2 <= 0 or not (area > 0).any():
        return areas, np.zeros(len(areas))
    labels = np.zeros(len(areas), dtype=int) if groups is None else pd.factorize(np.asarray(groups))[0]
    kept = np.asarray(areas, dtype=object).copy()
    for label in np.unique(labels[area > 0]):
        mine = labels == label
        patches = shapely.get_parts(shapely.union_all(areas[mine & (area > 0)]))
        small = patches[shapely.area(patches) < min_m2]
        kept[mine] = clean(cut(areas[mine], small))
    share = np.where(area > 0, 1 - shapely.area(kept) / np.maximum(area, 1e-9), 0.0)
    return kept, np.clip(np.round(share, 6), 0, 1)


def area_frame(index: pd.Index, geoms: np.ndarray, ha: pd.Series, *, column: str = "eligible_ha") -> gpd.GeoDataFrame:
    """The non-empty geometries with their area column, on the matching part of ``index``.

    Parameters
    ----------
    index : Index
        One label per geometry (e.g. parcel ids).
    geoms : ndarray of geometries
        In EPSG:25833.
    ha : Series
        Area (ha) per geometry, in the same order.
    column : str
        Name of the area column.

    Returns
    -------
    GeoDataFrame
        EPSG:25833, rows with empty geometries dropped.
    """
    keep = ~shapely.is_empty(geoms)
    return gpd.GeoDataFrame({column: ha.to_numpy()[keep]}, geometry=geoms[keep], crs=WORKING_CRS, index=index[keep])
