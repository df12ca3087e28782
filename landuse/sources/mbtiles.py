"""OpenStreetMap from an MBTiles file of OpenMapTiles vector tiles (e.g. all of Saxony at z14).

Only the tiles that touch the area of interest are read from the SQLite ``tiles`` table and
decoded. Vector tiles cut every feature at the tile edges (tilemaker keeps a buffer of some
256 of the 4,096 units beyond them), so each piece is first clipped to its own tile; then
polygons with the same attributes are dissolved (buildings: only the pieces that meet across a
tile edge) and lines with the same attributes merged where they meet, before the OpenMapTiles
class mapping of :func:`landuse.sources.omt.canonical_layers` gives the canonical layers.

All merging is done in global tile-pixel coordinates (tile column × extent + x): tile edges
are then exact integers, the same number in both tiles that share them.
"""

from __future__ import annotations

import gzip
import logging
import math
import sqlite3
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from landuse.config import WORKING_CRS
from landuse.errors import DataError
from landuse.geometry import transformer
from landuse.sources.omt import OMT_COLUMNS, canonical_layers

log = logging.getLogger(__name__)

#: Global pixel grid: every tile is mapped to this many units a side whatever its layer extent.
GRID = 4096
_HALF_WORLD = math.pi * 6378137.0  # Web Mercator half circumference (m)

#: tilemaker splits some layers by road class or detail; at every zoom they are one layer.
LAYER_ALIASES = {
    "transportation_main": "transportation",
    "transportation_mid": "transportation",
    "transportation_detail": "transportation",
    "waterway_detail": "waterway",
}
# runways and taxiways are lines in the tiles' aeroway layer (the GeoPackage: `aeroway_line`);
# they are read apart, merged as lines and joined to the aeroway polygons
_LINE_LAYERS = ("transportation", "waterway", "aeroway_line")
_NUMERIC = ("render_height",)
# vector tile geometry types (MVT spec 4.3.4)
_LINESTRING, _POLYGON = 2, 3


@dataclass
class TileRead:
    """Raw OpenMapTiles layers decoded from the tiles that touch an area, pieces merged.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        ``landcover``, ``landuse``, ``water``, ``park`` and ``building`` (polygons),
        ``transportation`` and ``waterway`` (lines), ``aeroway`` (polygons and lines), columns of
        :data:`landuse.sources.omt.OMT_COLUMNS`, in the requested CRS.
    tiles : list of (int, int)
        (column, TMS row) of the tiles read and decoded.
    zoom : int
        Zoom level read.
    pieces : dict of str to int
        Features per layer as decoded (pieces cut at tile edges), before merging.
    """

    layers: dict[str, gpd.GeoDataFrame]
    tiles: list[tuple[int, int]]
    zoom: int
    pieces: dict[str, int] = field(default_factory=dict)


def read_mbtiles(
    path: str | Path, area: shapely.Geometry, crs: str = WORKING_CRS, *, snap_m: float = 1.0
) -> dict[str, gpd.GeoDataFrame]:
    """Canonical layers from the OpenMapTiles vector tiles of an MBTiles file.

    Parameters
    ----------
    path : path-like
        MBTiles file (SQLite, ``tiles`` and ``metadata`` tables) in the OpenMapTiles schema.
    area : shapely.Geometry
        Area of interest (region plus margin) in ``crs``; only the tiles that touch it are read.
    crs : str, default EPSG:25833
        CRS of ``area`` and of the layers returned.
    snap_m : float, default 1.0
        Gaps up to this width (m, on the ground) between a feature and the tile edge are closed,
        so pieces that the tiler clipped short of the edge still merge with their neighbour.

    Returns
    -------
    dict of str to GeoDataFrame
        Canonical layers in ``crs``, with buildings from the ``building`` layer.

    Raises
    ------
    DataError
        The file is missing, not an MBTiles file, no tile touches the area, or a tile is not a
        readable vector tile.
    """
    read = read_tiles(path, area, crs, snap_m=snap_m)
    layers = canonical_layers(read.layers)
    log.info("Read %d z%d tiles of %s: %s", len(read.tiles), read.zoom, path,
             ", ".join(f"{k} {len(v)}" for k, v in layers.items()))
    return layers


def read_tiles(
    path: str | Path, area: shapely.Geometry, crs: str = WORKING_CRS, *, snap_m: float = 1.0
) -> TileRead:
    """Decode the tiles of an MBTiles file that touch ``area`` and merge the pieces of each feature.

    Parameters
    ----------
    path : path-like
        MBTiles file.
    area : shapely.Geometry
        Area of interest in ``crs``.
    crs : str, default EPSG:25833
        CRS of ``area`` and of the layers returned.
    snap_m : float, default 1.0
        See :func:`read_mbtiles`.

    Returns
    -------
    TileRead
        The raw layers (merged) and the tiles read.
    """
    path = Path(path)
    con = _connect(path)
    try:
        zoom = _zoom(con, path)
        tiles = _touching_tiles(con, path, zoom, area, crs)
        if not tiles:
            lon_lat = gpd.GeoSeries([area], crs=crs).to_crs("EPSG:4326").total_bounds
            raise DataError(
                f"{path}: no tile touches the area of interest (lon {lon_lat[0]:.2f}–{lon_lat[2]:.2f}, lat "
                f"{lon_lat[1]:.2f}–{lon_lat[3]:.2f}); use tiles that cover the region "
                f"({_bounds_text(con)}).")
        # tile pixels per metre on the ground at the area's latitude (Mercator scale 1/cos φ)
        lat = math.radians(float(gpd.GeoSeries([area.centroid], crs=crs).to_crs("EPSG:4326").iloc[0].y))
        units_per_m = GRID * 2**zoom / (2 * _HALF_WORLD) / math.cos(lat)
        decoded = _decode_tiles(con, path, zoom, tiles)
    finally:
        con.close()
    tol = snap_m * units_per_m
    layers, pieces = {}, {}
    for name, parts in decoded.items():
        geoms, tile_xy, attrs = parts.arrays()
        pieces[name] = len(geoms)
        if name in _LINE_LAYERS:
            geoms, attrs = _merge_lines(geoms, tile_xy, attrs, tol)
        else:
            geoms, attrs = _merge_polygons(geoms, tile_xy, attrs, tol, dissolve=name != "building")
        layers[name] = _to_crs(geoms, attrs, zoom, crs)
    layers["aeroway"] = pd.concat([layers["aeroway"], layers.pop("aeroway_line")], ignore_index=True)
    log.debug("Decoded pieces per layer: %s", pieces)
    return TileRead(layers=layers, tiles=tiles, zoom=zoom, pieces=pieces)


def data_extent(path: str | Path, area: shapely.Geometry, crs: str = WORKING_CRS) -> shapely.Geometry:
    """The part of ``area``'s tile range that the file has tiles for, in ``crs``.

    Parameters
    ----------
    path : path-like
        MBTiles file.
    area : shapely.Geometry
        Area of interest in ``crs``.
    crs : str, default EPSG:25833

    Returns
    -------
    shapely.Geometry
        Union of the boxes of the tiles that touch ``area`` (empty when there are none), for
        :func:`landuse.layers.check_coverage`.
    """
    path = Path(path)
    con = _connect(path)
    try:
        zoom = _zoom(con, path)
        tiles = _touching_tiles(con, path, zoom, area, crs)
    finally:
        con.close()
    if not tiles:
        return shapely.Polygon()
    cols, rows = np.array(tiles).T
    n = 2**zoom
    size = 2 * _HALF_WORLD / n
    x0 = cols * size - _HALF_WORLD
    y0 = (rows - n / 2) * size  # TMS rows count from the south
    boxes = shapely.box(x0, y0, x0 + size, y0 + size)
    merged = shapely.segmentize(shapely.union_all(boxes), size / 8)  # straight in Mercator, curved in UTM
    return gpd.GeoSeries([merged], crs="EPSG:3857").to_crs(crs).iloc[0]


# --- file access -----------------------------------------------------------------------------

def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise DataError(f"{path}: MBTiles file not found; check sources.osm.path (type mbtiles) and the data "
                        "directory.")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not an MBTiles file ({exc}); a truncated or half-copied file reads like "
                        "this.") from exc
    if "tiles" not in names:
        con.close()
        raise DataError(f"{path}: not an MBTiles file (no 'tiles' table); use an MBTiles file of OpenMapTiles "
                        "vector tiles.")
    return con


def _zoom(con: sqlite3.Connection, path: Path) -> int:
    try:
        (zoom,) = con.execute("SELECT MAX(zoom_level) FROM tiles").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: the 'tiles' table is not readable ({exc}); a truncated or half-copied file "
                        "reads like this.") from exc
    if zoom is None:
        raise DataError(f"{path}: the MBTiles file holds no tiles; use a file with vector tiles for the region.")
    # the deepest zoom keeps the full detail; shallower ones are generalised
    return int(zoom)


def _bounds_text(con: sqlite3.Connection) -> str:
    row = con.execute("SELECT value FROM metadata WHERE name = 'bounds'").fetchone() if _has_metadata(con) else None
    return f"this file covers lon/lat {row[0]}" if row else "this file has no 'bounds' metadata"


def _has_metadata(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'metadata'").fetchone() is not None


def _touching_tiles(con: sqlite3.Connection, path: Path, zoom: int, area: shapely.Geometry,
                    crs: str) -> list[tuple[int, int]]:
    """(column, TMS row) of the tiles in the file whose box intersects ``area``."""
    n = 2**zoom
    size = 2 * _HALF_WORLD / n
    merc = gpd.GeoSeries([shapely.segmentize(area, 500.0)], crs=crs).to_crs("EPSG:3857").iloc[0]
    minx, miny, maxx, maxy = merc.bounds
    c0, c1 = math.floor((minx + _HALF_WORLD) / size), math.floor((maxx + _HALF_WORLD) / size)
    r0, r1 = math.floor(miny / size + n / 2), math.floor(maxy / size + n / 2)  # TMS rows
    rows = con.execute(
        "SELECT tile_column, tile_row FROM tiles WHERE zoom_level = ? AND tile_column BETWEEN ? AND ? "
        "AND tile_row BETWEEN ? AND ?", (zoom, c0, c1, r0, r1)).fetchall()
    if not rows:
        return []
    cols, trows = np.array(rows).T
    x0 = cols * size - _HALF_WORLD
    y0 = (trows - n / 2) * size
    shapely.prepare(merc)
    hit = shapely.intersects(merc, shapely.box(x0, y0, x0 + size, y0 + size))
    return sorted((int(c), int(r)) for c, r in zip(cols[hit], trows[hit], strict=True))


# --- decoding --------------------------------------------------------------------------------

class _Parts:
    """Encoded features of one raw layer, gathered over the tiles and decoded in one pass.

    Per feature only the command integers are walked in Python; the vertices (the bulk of the
    integers) are decoded with numpy: zig-zag, cumulative sum per feature, tile origin added.
    """

    def __init__(self, columns: list[str], polygons: bool):
        self.columns = columns
        self.polygons = polygons
        self.chunks: list[np.ndarray] = []  # the geometry integers, one array per tile and layer
        self.size = 0  # integers gathered so far
        self.spans: list[int] = []  # (start, count of integers) of each run of vertex parameters
        self.ring_counts: list[int] = []  # vertices per ring (polygons) or line
        self.feature_rings: list[int] = []  # rings or lines per feature
        self.feature_pairs: list[int] = []  # vertices per feature
        self.origin: list[tuple[int, int]] = []  # tile origin (global pixels) per feature
        self.scale: list[float] = []  # global pixels per tile unit (layer extent other than 4096)
        self.attrs: list[tuple] = []

    def add_layer(self, layer, origin: tuple[int, int], want: int) -> None:
        """Gather the features of geometry type ``want`` of one decoded-protobuf tile layer."""
        key_col = {i: self.columns.index(k) for i, k in enumerate(layer.keys) if k in self.columns}
        values = [_value(v) for v in layer.values]
        scale = GRID / (layer.extent or 4096)
        ints: list[int] = []
        base = self.size
        spans, ring_counts = self.spans, self.ring_counts
        for feat in layer.features:
            if feat.type != want:
                continue
            g = list(feat.geometry)
            n = len(g)
            i, rings, pairs = 0, 0, 0
            while i < n:
                cmd, count = g[i] & 7, g[i] >> 3
                i += 1
                if cmd == 1:  # MoveTo: each point starts a ring or line
                    ring_counts.extend([1] * count)
                    rings += count
                elif cmd == 2 and rings:  # LineTo continues the last one
                    ring_counts[-1] += count
                else:  # ClosePath (no parameters), or a LineTo before any MoveTo (malformed: skipped)
                    if cmd == 2:
                        i += 2 * count
                    continue
                spans.extend((base + len(ints) + i, 2 * count))
                pairs += count
                i += 2 * count
            if rings == 0:
                continue
            ints.extend(g)
            props = [""] * len(self.columns)
            tags = feat.tags
            for k, v in zip(tags[::2], tags[1::2], strict=True):
                j = key_col.get(k)
                if j is not None:
                    props[j] = values[v]
            self.attrs.append(tuple(props))
            self.feature_rings.append(rings)
            self.feature_pairs.append(pairs)
            self.origin.append(origin)
            self.scale.append(scale)
        if ints:
            self.chunks.append(np.array(ints, dtype=np.int64))
            self.size += len(ints)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """Geometries (Multi*, global pixels), their tile's pixel origin (n, 2) and attributes."""
        attrs = pd.DataFrame(self.attrs, columns=self.columns) if self.attrs else pd.DataFrame(
            {c: pd.Series(dtype=object) for c in self.columns})
        origin = np.array(self.origin, dtype=float).reshape(-1, 2)
        n_feat = len(self.attrs)
        if n_feat == 0:
            return np.array([], dtype=object), origin, attrs
        ints = np.concatenate(self.chunks)
        spans = np.array(self.spans, dtype=np.int64).reshape(-1, 2)
        starts, lens = spans[:, 0], spans[:, 1]
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
        p = ints[idx]
        d = ((p >> 1) ^ -(p & 1)).reshape(-1, 2)
        # the cursor runs on through a feature's rings and starts at 0 in each feature
        fp = np.array(self.feature_pairs)
        cs = d.cumsum(axis=0)
        first = np.concatenate([[0], np.cumsum(fp)[:-1]])
        before = np.vstack([[0, 0], cs])[first]
        xy = (cs - np.repeat(before, fp, axis=0)).astype(float)
        xy *= np.repeat(np.array(self.scale), fp)[:, None]
        xy += np.repeat(origin, fp, axis=0)

        counts = np.array(self.ring_counts, dtype=np.int64)
        ring_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        ring_feat = np.repeat(np.arange(n_feat), self.feature_rings)
        if not self.polygons:
            keep = counts >= 2
            lines_per_feat = np.bincount(ring_feat[keep], minlength=n_feat)
            vidx = np.repeat(ring_start[keep] - np.concatenate([[0], np.cumsum(counts[keep])[:-1]]),
                             counts[keep]) + np.arange(counts[keep].sum())
            geoms = shapely.from_ragged_array(
                shapely.GeometryType.MULTILINESTRING, xy[vidx],
                (np.concatenate([[0], np.cumsum(counts[keep])]), np.concatenate([[0], np.cumsum(lines_per_feat)])))
            return geoms, origin, attrs
        # ring orientation (shoelace) in tile coordinates: the first ring's sign marks exteriors
        nxt = np.arange(len(xy)) + 1
        nxt[ring_start + counts - 1] = ring_start
        cross = xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1]
        area2 = np.add.reduceat(cross, ring_start)
        area2[counts < 3] = 0
        nz = np.flatnonzero(area2 != 0)
        feat_nz, first_nz = np.unique(ring_feat[nz], return_index=True)
        feat_sign = np.zeros(n_feat)
        feat_sign[feat_nz] = np.sign(area2[nz[first_nz]])
        keep = area2 != 0
        exterior = keep & (np.sign(area2) == feat_sign[ring_feat])
        poly_of_ring = np.cumsum(exterior) - 1
        k_counts = counts[keep] + 1  # rings closed on their first vertex
        total = int(k_counts.sum())
        out_start = np.concatenate([[0], np.cumsum(k_counts)[:-1]])
        local = np.arange(total) - np.repeat(out_start, k_counts)
        local[local == np.repeat(k_counts - 1, k_counts)] = 0
        vidx = np.repeat(ring_start[keep], k_counts) + local
        rings_per_poly = np.bincount(poly_of_ring[keep], minlength=int(exterior.sum()))
        polys_per_feat = np.bincount(ring_feat[exterior], minlength=n_feat)
        geoms = shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON, xy[vidx],
            (np.concatenate([[0], np.cumsum(k_counts)]), np.concatenate([[0], np.cumsum(rings_per_poly)]),
             np.concatenate([[0], np.cumsum(polys_per_feat)])))
        return geoms, origin, attrs


def _decode_tiles(con: sqlite3.Connection, path: Path, zoom: int,
                  tiles: list[tuple[int, int]]) -> dict[str, _Parts]:
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    n = 2**zoom
    out = {name: _Parts(cols, polygons=name not in _LINE_LAYERS) for name, cols in OMT_COLUMNS.items()}
    out["aeroway_line"] = _Parts(OMT_COLUMNS["aeroway"], polygons=False)
    for col, trow in tiles:
        (blob,) = con.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                              (zoom, col, trow)).fetchone()
        tile = vector_tile_pb2.tile()
        try:
            tile.ParseFromString(_inflate(blob))
        except Exception as exc:  # noqa: BLE001 - zlib, gzip and protobuf raise unrelated types
            raise DataError(f"{path}: tile {zoom}/{col}/{trow} (TMS) is not a readable vector tile ({exc}); "
                            "a truncated or half-copied file reads like this.") from exc
        origin = (col * GRID, (n - 1 - trow) * GRID)  # y down, like the tile's own coordinates
        for layer in tile.layers:
            parts = out.get(LAYER_ALIASES.get(layer.name, layer.name))
            if parts is not None:
                parts.add_layer(layer, origin, _POLYGON if parts.polygons else _LINESTRING)
            if layer.name == "aeroway":
                out["aeroway_line"].add_layer(layer, origin, _LINESTRING)
    return out


def _inflate(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:1] == b"\x78":
        return zlib.decompress(blob)
    return blob


def _value(v) -> str:
    """A tile value as the GeoPackage reader sees it: text, numbers as their string."""
    for f in ("string_value", "float_value", "double_value", "int_value", "uint_value", "sint_value",
              "bool_value"):
        if v.HasField(f):
            x = getattr(v, f)
            return x if f == "string_value" else str(int(x) if f == "bool_value" else x)
    return ""


# --- merging pieces --------------------------------------------------------------------------

def _tile_boxes(origin: np.ndarray) -> np.ndarray:
    return shapely.box(origin[:, 0], origin[:, 1], origin[:, 0] + GRID, origin[:, 1] + GRID)


def _near_edge(geoms: np.ndarray, origin: np.ndarray, tol: float) -> np.ndarray:
    """Whether each geometry comes within ``tol`` of its tile's edge (bounds test)."""
    b = shapely.bounds(geoms)
    lo, hi = b[:, :2] - origin, b[:, 2:] - origin
    return np.any(lo < tol, axis=1) | np.any(hi > GRID - tol, axis=1)


def _explode_clip(geoms: np.ndarray, origin: np.ndarray, polygons: bool) -> tuple[np.ndarray, np.ndarray]:
    """Valid single parts clipped to their own tile (drops the tiler's buffer), with their feature's index."""
    b = shapely.bounds(geoms)
    out = np.any(b[:, :2] < origin, axis=1) | np.any(b[:, 2:] > origin + GRID, axis=1)
    geoms = geoms.copy()
    if polygons:
        bad = ~shapely.is_valid(geoms)
        geoms[bad] = shapely.make_valid(geoms[bad])
    if out.any():
        geoms[out] = shapely.intersection(geoms[out], _tile_boxes(origin[out]))
    return _single_parts(geoms, polygons)


def _single_parts(geoms: np.ndarray, polygons: bool) -> tuple[np.ndarray, np.ndarray]:
    """Polygons (or lines) of each geometry, also out of collections left by clipping or repair."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    coll = shapely.get_type_id(parts) == 7
    if coll.any():
        inner, k = shapely.get_parts(parts[coll], return_index=True)
        parts = np.concatenate([parts[~coll], inner])
        idx = np.concatenate([idx[~coll], idx[coll][k]])
    keep = shapely.get_type_id(parts) == (3 if polygons else 1)
    return parts[keep], idx[keep]


def _snap(coords: np.ndarray, origin: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates within ``tol`` of their tile's edge moved onto it; also the tile-local ones."""
    local = coords - origin
    local = np.where(local < tol, 0.0, np.where(local > GRID - tol, float(GRID), local))
    return local + origin, local


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)[1]


def _merge_polygons(geoms: np.ndarray, tile_xy: np.ndarray, attrs: pd.DataFrame, tol: float,
                    dissolve: bool) -> tuple[np.ndarray, pd.DataFrame]:
    if len(geoms) == 0:
        return geoms, attrs
    parts, idx = _explode_clip(geoms, tile_xy, polygons=True)
    origin = tile_xy[idx]
    near = np.flatnonzero(_near_edge(parts, origin, tol))
    if len(near):
        coords, ci = shapely.get_coordinates(parts[near], return_index=True)
        snapped, _ = _snap(coords, origin[near][ci], tol)
        moved = np.unique(ci[np.any(snapped != coords, axis=1)])
        sub = shapely.set_coordinates(parts[near].copy(), snapped)
        parts[near] = sub
        fix = near[moved][~shapely.is_valid(sub[moved])]
        if len(fix):  # a vertex moved onto the edge can fold a thin piece: repair those
            fixed, k = _single_parts(shapely.make_valid(parts[fix]), polygons=True)
            rest = np.setdiff1d(np.arange(len(parts)), fix)
            parts = np.concatenate([parts[rest], fixed])
            idx = np.concatenate([idx[rest], idx[fix][k]])
            origin = tile_xy[idx]
    keep = shapely.area(parts) > 0
    parts, idx, origin = parts[keep], idx[keep], origin[keep]
    a = attrs.iloc[idx].reset_index(drop=True)
    group = a.groupby(list(a.columns), sort=False, dropna=False).ngroup().to_numpy()
    if dissolve:
        # same attributes touching anywhere become one polygon, as in the GeoPackage
        cand = np.arange(len(parts))
    else:
        # buildings: only pieces that meet across a tile edge are joined, so terraced houses stay apart
        cand = np.flatnonzero(_near_edge(parts, origin, 0.5))
    if len(cand) == 0:
        return parts, a
    # envelope pairs first: the predicate only for pieces of the same attributes (most neighbours
    # differ), each pair once
    i, j = shapely.STRtree(parts[cand]).query(parts[cand])
    ok = (i < j) & (group[cand[i]] == group[cand[j]])
    if not dissolve:
        ok &= np.any(origin[cand[i]] != origin[cand[j]], axis=1)
    i, j = i[ok], j[ok]
    meet = shapely.intersects(parts[cand[i]], parts[cand[j]])
    i, j = i[meet], j[meet]
    if len(i) == 0:
        return parts, a
    label = _components(len(cand), i, j)
    joined = np.flatnonzero(np.bincount(label)[label] > 1)
    order = joined[np.argsort(label[joined], kind="stable")]
    bounds = np.flatnonzero(np.diff(label[order])) + 1
    new, rows = [], []
    for members in np.split(cand[order], bounds):
        merged = shapely.get_parts(shapely.union_all(parts[members]))
        merged = merged[shapely.get_type_id(merged) == 3]
        new.extend(merged)
        rows.extend([members[0]] * len(merged))
    rest = np.setdiff1d(np.arange(len(parts)), cand[joined])
    out = np.concatenate([parts[rest], np.array(new, dtype=object)])
    return out, pd.concat([a.iloc[rest], a.iloc[rows]], ignore_index=True)


def _merge_lines(geoms: np.ndarray, tile_xy: np.ndarray, attrs: pd.DataFrame,
                 tol: float) -> tuple[np.ndarray, pd.DataFrame]:
    if len(geoms) == 0:
        return geoms, attrs
    parts, idx = _explode_clip(geoms, tile_xy, polygons=False)
    origin = tile_xy[idx]
    near = np.flatnonzero(_near_edge(parts, origin, tol))
    drop = np.zeros(len(parts), dtype=bool)
    if len(near):
        coords, ci = shapely.get_coordinates(parts[near], return_index=True)
        coords, local = _snap(coords, origin[near][ci], tol)
        # a line along a tile's far edge is also in the next tile, along its near edge: keep that one
        for axis in (0, 1):
            drop[near] |= np.bincount(ci, weights=local[:, axis] != GRID, minlength=len(near)) == 0
        # the ends where a line was cut at a tile edge: each tile rounded the crossing on its own,
        # so ends within ``tol`` of each other are moved to their mean
        counts = np.bincount(ci, minlength=len(near))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        ends = np.concatenate([starts, starts + counts - 1])
        ends = ends[np.any((local[ends] == 0) | (local[ends] == GRID), axis=1) & ~drop[near][ci[ends]]]
        if len(ends) > 1:
            pairs = cKDTree(coords[ends]).query_pairs(max(tol, 1.0), output_type="ndarray")
            if len(pairs):
                label = _components(len(ends), pairs[:, 0], pairs[:, 1])
                size = np.bincount(label)
                mean = np.column_stack([np.bincount(label, weights=coords[ends, k]) / size for k in (0, 1)])
                coords[ends] = mean[label]
        parts[near] = shapely.set_coordinates(parts[near].copy(), coords)
    keep = ~drop & (shapely.length(parts) > 0)
    parts, idx = parts[keep], idx[keep]
    a = attrs.iloc[idx].reset_index(drop=True)
    group = a.groupby(list(a.columns), sort=False, dropna=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    out, rows = [], []
    for members in np.split(order, np.flatnonzero(np.diff(group[order])) + 1):
        merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(parts[members])))
        out.append(merged)
        rows.append(np.full(len(merged), members[0]))
    return np.concatenate(out), a.iloc[np.concatenate(rows)].reset_index(drop=True)


def _to_crs(geoms: np.ndarray, attrs: pd.DataFrame, zoom: int, crs: str) -> gpd.GeoDataFrame:
    """Global pixels (y down) → Web Mercator → ``crs`` in one pass; numeric columns back to numbers."""
    s = 2 * _HALF_WORLD / (GRID * 2**zoom)
    to_crs = transformer("EPSG:3857", crs)

    def project(c: np.ndarray) -> np.ndarray:
        return np.column_stack(to_crs.transform(c[:, 0] * s - _HALF_WORLD, _HALF_WORLD - c[:, 1] * s))

    attrs = attrs.reset_index(drop=True).copy()
    for c in attrs.columns:
        if c in _NUMERIC:
            attrs[c] = pd.to_numeric(attrs[c].replace("", np.nan), errors="coerce")
        else:
            attrs[c] = attrs[c].astype(object).astype(str)
    return gpd.GeoDataFrame(attrs, geometry=np.asarray(shapely.transform(geoms, project), dtype=object), crs=crs)
