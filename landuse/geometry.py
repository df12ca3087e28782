"""Vectorised geometry operations shared by the stages (shapely 2 arrays, EPSG:25833)."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from landuse.config import WORKING_CRS

#: Segments per quarter circle of every buffer: polygon edges stay within 0.12 % of the
#: radius inside the true circle (1 - cos(pi/64): 1.2 m at 1000 m); at the vertices it is exact.
QUAD_SEGS = 16


T = TypeVar("T")
R = TypeVar("R")


#: Slices per thread of :func:`map_chunks` (see there).
CHUNKS_PER_THREAD = 16


def thread_count() -> int:
    """Threads for independent geometry work: ``LANDUSE_THREADS``, else ``OMP_NUM_THREADS`` (which
    Dask sets to 1 in its worker processes, so partitioned runs do not oversubscribe the
    cores), else the machine's cores."""
    for name in ("LANDUSE_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def transformer(from_crs, to_crs) -> Transformer:
    """A pyproj Transformer (x, y order) from ``from_crs`` to ``to_crs`` (anything pyproj reads),
    made once per pair: making one looks up PROJ's database (about 70 ms), which each raster and
    each tile read paid per partition before (Wurzen: 0.5 s of its 1.7 s of raster reprojection)."""
    return _transformer(CRS.from_user_input(from_crs).to_wkt(), CRS.from_user_input(to_crs).to_wkt())


@functools.lru_cache(maxsize=32)
def _transformer(from_wkt: str, to_wkt: str) -> Transformer:
    return Transformer.from_crs(from_wkt, to_wkt, always_xy=True)  # thread-safe since pyproj 3.1


def map_threads(func: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[func(item) for item in items]`` on :func:`thread_count` threads, in order.

    Shapely 2 releases the GIL in its vectorised operations, so independent buffers, dissolves
    and overlays run in parallel (wind, default region: 4.6 s on one thread, 2.5 s on two).
    """
    items = list(items)
    threads = min(thread_count(), len(items))
    if threads <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(func, items))


def map_chunks(func: Callable[..., np.ndarray], *arrays: np.ndarray, min_chunk: int = 32) -> np.ndarray:
    """``func(*arrays)`` for an element-wise vectorised function, in chunks on :func:`thread_count` threads.

    For a single heavy shapely call (a buffer of every parcel, an overlay of every pair): the
    arrays are cut into :data:`CHUNKS_PER_THREAD` consecutive slices per thread (of at least
    ``min_chunk`` elements), which the threads take in turn as they finish, and the results are
    joined in order, so the result is the one of a single call. Many slices, not one per thread:
    the cost of geometries is uneven along an array (the large forests of one corner, the dense
    streets of a town), and with one slice per thread one thread idled half the time (default
    region, road cuts of the land cover: 3.3 s in two slices, 2.0 s in 32).
    """
    slices = _thread_slices(len(arrays[0]), min_chunk)
    if slices is None:
        return func(*arrays)
    return np.concatenate(map_threads(lambda ab: func(*(a[ab[0]:ab[1]] for a in arrays)), slices))


def _thread_slices(n: int, min_chunk: int) -> list[tuple[int, int]] | None:
    """(start, stop) of the :data:`CHUNKS_PER_THREAD` consecutive slices per thread (of at least
    ``min_chunk`` of ``n`` elements) that :func:`map_chunks` and :func:`query_pairs` hand the
    threads; None where one call on this thread is all there is to do."""
    threads = thread_count()
    chunks = min(threads * CHUNKS_PER_THREAD, n // max(min_chunk, 1))
    if threads <= 1 or chunks <= 1:
        return None
    return list(itertools.pairwise(np.linspace(0, n, chunks + 1).astype(int)))


def query_pairs(tree: shapely.STRtree | gpd.sindex.SpatialIndex, geoms: np.ndarray, **options) -> np.ndarray:
    """``tree.query(geoms, **options)`` (a shapely ``STRtree`` or a geopandas spatial index) on
    :func:`thread_count` threads: the pairs of a single call, in its order.

    A predicate query tests each of ``geoms`` on its own, with the GIL released, so consecutive
    slices of ``geoms`` are queried at once (default region, the parcels against themselves:
    2.1 s on one thread, 1.3 s on two).
    """
    geoms = np.asarray(geoms, dtype=object)
    slices = _thread_slices(len(geoms), 256)
    if slices is None:
        return np.asarray(tree.query(geoms, **options))

    def one(ab: tuple[int, int]) -> np.ndarray:
        pairs = np.asarray(tree.query(geoms[ab[0]:ab[1]], **options))
        pairs[0] += ab[0]
        return pairs

    return np.concatenate(map_threads(one, slices), axis=1)


def pairs_among(pairs: tuple[np.ndarray, np.ndarray], among: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """True for each index pair (i, j) of ``pairs`` that ``among`` holds too (pairs of two tree
    queries: those of ``contains_properly`` among those of ``intersects``, say)."""
    span = int(max(pairs[1].max(initial=-1), among[1].max(initial=-1))) + 1
    return np.isin(pairs[0].astype(np.int64) * span + pairs[1], among[0].astype(np.int64) * span + among[1])


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
    hit, dissolved = union_per_group(cutters[pairs[1]], pairs[0])
    out[hit] = map_chunks(shapely.difference, targets[hit], dissolved)
    return out


def union_per_group(geoms: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of the geometries of each group.

    One ``union_all`` per group: GEOS's cascaded union is many times faster on overlapping
    circles than dissolving a GeometryCollection with ``buffer(0)`` (wind, default region:
    building groups 1.1 s instead of 15.7 s).

    Parameters
    ----------
    geoms : ndarray of geometries
    groups : ndarray of int
        A group label per geometry.

    Returns
    -------
    (ndarray, ndarray)
        The sorted distinct labels and the union of each.
    """
    order = np.argsort(groups, kind="stable")
    labels, starts = np.unique(groups[order], return_index=True)
    parts = np.empty(len(labels), dtype=object)
    parts[:] = np.split(geoms[order], starts[1:])

    def union(chunk: np.ndarray) -> np.ndarray:
        return np.array([p[0] if len(p) == 1 else shapely.union_all(p) for p in chunk], dtype=object)

    return labels, map_chunks(union, parts)


def snap_to_grid(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    """The geometries with their vertices on a ``grid_size`` grid, valid and without repeated
    vertices, as ``shapely.set_precision(geoms, grid_size)`` guarantees.

    Full snap rounding (``set_precision``'s default mode) nodes and rebuilds every geometry,
    also the many an overlay left valid, which only need their coordinates rounded. So the
    coordinates are rounded first; a geometry that this leaves valid only loses its repeated
    vertices, and only the others are snap-rounded (default region, the result layers: 3.4 s
    to 0.75 s). Geometries that are valid with every vertex on the grid already, none repeated
    (the parcels, on a coarser grid), are kept as they are: a rounded copy of the state's parcels
    would cost about a gigabyte while they are written.

    Parameters
    ----------
    geoms : ndarray of geometries
    grid_size : float
        Grid (m, EPSG:25833).

    Returns
    -------
    ndarray
        The snapped geometries, in the input's order; each valid (or missing, where the input is).
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    todo = ~_on_grid_already(geoms, grid_size)
    if todo.any():
        out[todo] = _round_or_snap(geoms[todo], grid_size)
    return out


def _round_or_snap(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    rounded = shapely.set_precision(geoms, grid_size, mode="pointwise")
    # a valid geometry keeps at least 3 distinct vertices per ring, so removing repeats cannot collapse one
    ok = shapely.is_valid(rounded)
    rounded[ok] = shapely.remove_repeated_points(rounded[ok])
    rest = ~ok & ~shapely.is_missing(geoms)
    if rest.any():
        rounded[rest] = shapely.set_precision(geoms[rest], grid_size)
    return rounded


#: Geometries checked at a time for vertices on the grid (bounds the coordinate copies).
GRID_CHECK_CHUNK = 20_000


def _on_grid_already(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    """True where a geometry is valid, each vertex within a thousandth of ``grid_size`` of the
    grid (float rounding of the coordinates aside) and no vertex repeats the one before it."""
    out = np.zeros(len(geoms), dtype=bool)
    for a in range(0, len(geoms), GRID_CHECK_CHUNK):
        part = geoms[a:a + GRID_CHECK_CHUNK]
        coords, index = shapely.get_coordinates(part, return_index=True)
        steps = coords / grid_size
        off = (np.abs(steps - np.round(steps)) > 1e-3).any(axis=1)
        # a vertex equal to the one before it in the same geometry (also where rings meet: rare,
        # and then the geometry is only snapped as the others)
        repeated = np.zeros(len(coords), dtype=bool)
        repeated[1:] = (coords[1:] == coords[:-1]).all(axis=1) & (index[1:] == index[:-1])
        bad = np.bincount(index, weights=off | repeated, minlength=len(part)) > 0
        out[a:a + len(part)] = ~bad & shapely.is_valid(part)
    return out


#: Side (m) of the tiles exclusion zones are dissolved in (:func:`dissolve_in_tiles`).
TILE_M = 2000.0


def grid_tiles(area: shapely.Geometry, *, tile_m: float = TILE_M) -> np.ndarray:
    """Squares of a fixed grid (EPSG:25833 multiples of ``tile_m``) that touch ``area``."""
    if area is None or area.is_empty:
        return np.array([], dtype=object)
    x0, y0, x1, y1 = area.bounds
    xs, ys = np.meshgrid(np.arange(np.floor(x0 / tile_m) * tile_m, x1, tile_m),
                         np.arange(np.floor(y0 / tile_m) * tile_m, y1, tile_m))
    tiles = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + tile_m, ys.ravel() + tile_m)
    return tiles[shapely.intersects(tiles, area)]


def union_in_tiles(geoms: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """The union of the polygons ``geoms`` within each tile, on the tiles' order (an empty polygon
    where none reaches it): the exact union, as pieces that do not overlap where the tiles do not.

    Zones wholly inside a tile are taken whole; the others are cut at its edges first (polygon
    parts only: a zone touching an edge leaves a line there).
    """
    out = np.full(len(tiles), shapely.Polygon(), dtype=object)
    geoms = geoms[~shapely.is_empty(geoms)] if len(geoms) else geoms
    if len(geoms) == 0 or len(tiles) == 0:
        return out
    ti, zj = shapely.STRtree(geoms).query(tiles, predicate="intersects")
    inside = shapely.contains_properly(tiles[ti], geoms[zj])
    pieces = geoms[zj].copy()
    pieces[~inside] = clean(shapely.intersection(geoms[zj[~inside]], tiles[ti[~inside]]), min_m2=0.0)
    labels, dissolved = union_per_group(pieces, ti)
    out[labels] = dissolved
    return out


def dissolve_in_tiles(zones: np.ndarray, *, tile_m: float = TILE_M,
                      near: shapely.STRtree | None = None) -> np.ndarray:
    """The union of ``zones`` as pieces that do not overlap: one per tile of a fixed grid
    (EPSG:25833 multiples of ``tile_m``; :func:`union_in_tiles`).

    Thousands of overlapping 1 km circles become a few hundred disjoint pieces, dissolved once
    instead of once per parcel they touch; the union is exact (no simplification).

    Parameters
    ----------
    zones : ndarray of geometries
        Polygons.
    tile_m : float
    near : STRtree, optional
        Only tiles that touch one of its geometries (the parcels to cut) are dissolved.

    Returns
    -------
    ndarray of geometries
        Non-empty pieces, each inside one tile.
    """
    zones = zones[~shapely.is_empty(zones)] if len(zones) else zones
    if len(zones) < 2:
        return zones
    tiles = grid_tiles(shapely.box(*shapely.total_bounds(zones)), tile_m=tile_m)
    if near is not None:
        tiles = tiles[np.unique(near.query(tiles, predicate="intersects")[0])]
    dissolved = union_in_tiles(zones, tiles)
    return dissolved[~shapely.is_empty(dissolved)]


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


def outline_pieces(geoms: np.ndarray, *, max_segments: int = 4) -> np.ndarray:
    """The outlines of ``geoms`` (lines; polygon rings, holes included) cut into consecutive
    pieces of at most ``max_segments`` segments; points stay points.

    The pieces cover exactly the outlines, vertex for vertex. Their envelopes are tight, so a
    tree of them lets a nearest search compute few exact distances (a long road or a large
    forest has one envelope over kilometres).

    Parameters
    ----------
    geoms : ndarray of geometries
        Points, lines, polygons or their multi-forms, in any mix.
    max_segments : int
        Segments per piece (≥ 1).

    Returns
    -------
    ndarray of geometries
        The points, then the line pieces (LineStrings of 2 to ``max_segments + 1`` vertices).
    """
    k = max(int(max_segments), 1)
    geoms = np.asarray(geoms, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    outlines = geoms.copy()
    outlines[polygonal] = shapely.boundary(geoms[polygonal])
    parts = shapely.get_parts(shapely.get_parts(outlines))
    kind = shapely.get_type_id(parts)
    points, lines = parts[kind == 0], parts[(kind == 1) | (kind == 2)]
    xy, line = shapely.get_coordinates(lines, return_index=True)
    n = np.bincount(line, minlength=len(lines))
    p = np.arange(len(xy)) - (np.cumsum(n) - n)[line]  # position of each vertex on its line
    first_piece = np.cumsum(-(-(n - 1) // k)) - (-(-(n - 1) // k))
    # vertex p ends piece (p - 1) // k and starts piece p // k; the two differ where p % k == 0
    ends, starts = p >= 1, (p <= n[line] - 2) & (p % k == 0)
    piece = np.concatenate([first_piece[line[ends]] + (p[ends] - 1) // k, first_piece[line[starts]] + p[starts] // k])
    order = np.lexsort((np.concatenate([p[ends], p[starts]]), piece))
    pieces = shapely.linestrings(np.concatenate([xy[ends], xy[starts]])[order], indices=piece[order])
    return np.concatenate([points, pieces])


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
