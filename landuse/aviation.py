"""Approach and take-off areas of runways, built from the runway centre lines.

Wind turbines are obstacles to aircraft: around an airport with instrument runways, §12 LuftVG
protects approach sectors that start at both ends of a runway's strip, widen by 15 % on each
side and run on in the runway's direction (up to 15 km); ICAO Annex 14 (Table 4-1) gives the
same trapezoid for the approach surface (inner edge 300 m wide, 60 m beyond the threshold,
divergence 15 % each side). The numbers are declared in the wind rule set (``aviation:``)
with their sources; this module only builds the geometry.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from landuse.config import WORKING_CRS

#: Pieces of one runway: end points this close (m) and bearings this close (degrees) join.
JOIN_DISTANCE_M = 5.0
JOIN_BEARING_DEG = 5.0


def _bearing(line: shapely.LineString) -> float:
    """Axis bearing of a line, degrees clockwise from north, folded into [0, 180)."""
    c = shapely.get_coordinates(line)
    dx, dy = c[-1] - c[0]
    return float(np.degrees(np.arctan2(dx, dy)) % 180.0)


def runways(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Whole runways from runway centre-line pieces.

    OpenStreetMap (and tiles cut from it) may split a runway into several pieces; pieces whose
    end points meet (within :data:`JOIN_DISTANCE_M`) along the same bearing (within
    :data:`JOIN_BEARING_DEG`) are one runway. Its axis runs between the extreme points of all its
    pieces along their mean direction.

    Parameters
    ----------
    lines : GeoDataFrame
        Line features (EPSG:25833), e.g. the ``aerodromes`` layer filtered to ``class ==
        'runway'``; other geometry types are ignored.

    Returns
    -------
    GeoDataFrame
        One straight line per runway with ``runway_id``, ``length_m`` and ``bearing_deg``
        (0–180, clockwise from north), EPSG:25833.
    """
    geoms = lines.geometry.values
    geoms = geoms[shapely.get_dimensions(geoms) == 1] if len(geoms) else geoms
    pieces = shapely.get_parts(shapely.line_merge(geoms)) if len(geoms) else np.array([])
    pieces = pieces[shapely.length(pieces) > 0] if len(pieces) else pieces
    columns = {"runway_id": [], "length_m": [], "bearing_deg": []}
    if len(pieces) == 0:
        return gpd.GeoDataFrame(columns, geometry=[], crs=WORKING_CRS)
    bearings = np.array([_bearing(p) for p in pieces])
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(pieces, 0)),
                      shapely.get_coordinates(shapely.get_point(pieces, -1))])
    owner = np.concatenate([np.arange(len(pieces))] * 2)
    parent = np.arange(len(pieces))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = shapely.STRtree(shapely.points(ends))
    pairs = tree.query(shapely.points(ends), predicate="dwithin", distance=JOIN_DISTANCE_M)
    for a, b in pairs.T:
        i, j = owner[a], owner[b]
        turn = abs(bearings[i] - bearings[j]) % 180.0
        if i != j and min(turn, 180.0 - turn) <= JOIN_BEARING_DEG:
            parent[root(i)] = root(j)
    groups = np.array([root(i) for i in range(len(pieces))])
    out = []
    for g in np.unique(groups):
        coords = shapely.get_coordinates(pieces[groups == g])
        centred = coords - coords.mean(axis=0)
        # the principal axis of all vertices: robust to pieces drawn in either direction
        axis = np.linalg.svd(centred, full_matrices=False)[2][0]
        t = centred @ axis
        a, b = coords[np.argmin(t)], coords[np.argmax(t)]
        out.append(shapely.LineString([a, b]))
    axes = np.array(out, dtype=object)
    order = np.lexsort((shapely.get_y(shapely.centroid(axes)), shapely.get_x(shapely.centroid(axes))))
    axes = axes[order]
    return gpd.GeoDataFrame({
        "runway_id": [f"RWY{i + 1}" for i in range(len(axes))],
        "length_m": shapely.length(axes),
        "bearing_deg": [_bearing(a) for a in axes],
    }, geometry=axes, crs=WORKING_CRS)


def approach_surfaces(
    lines: gpd.GeoDataFrame,
    *,
    inner_edge_m: float,
    offset_m: float,
    divergence: float,
    length_m: float,
    min_runway_m: float,
) -> gpd.GeoDataFrame:
    """Approach and take-off trapezoids at both ends of every runway.

    Each trapezoid starts ``offset_m`` beyond the runway end with an inner edge ``inner_edge_m``
    wide (centred on the axis), widens by ``divergence`` (0.15 = 15 %) on each side and ends
    ``length_m`` further out.

    Parameters
    ----------
    lines : GeoDataFrame
        Runway centre-line pieces (EPSG:25833), joined by :func:`runways`.
    inner_edge_m, offset_m, divergence, length_m : float
        Width of the inner edge (m), its distance beyond the runway end (m), the widening on
        each side (per metre out), and the length of the trapezoid (m).
    min_runway_m : float
        Runways shorter than this (glider and small airfields without instrument approaches)
        get no trapezoid; the aerodrome rule covers them.

    Returns
    -------
    GeoDataFrame
        Polygons with ``runway_id``, ``end`` (the bearing out of the runway, degrees) and
        ``runway_length_m``, EPSG:25833.
    """
    rwy = runways(lines)
    rwy = rwy[rwy["length_m"] >= min_runway_m]
    rows, geoms = [], []
    half = inner_edge_m / 2.0
    for r in rwy.itertuples():
        c = shapely.get_coordinates(r.geometry)
        for start, end in ((c[0], c[1]), (c[1], c[0])):
            d = (end - start) / np.linalg.norm(end - start)
            n = np.array([-d[1], d[0]])
            near, far = end + d * offset_m, end + d * (offset_m + length_m)
            spread = half + divergence * length_m
            geoms.append(shapely.Polygon([near + n * half, far + n * spread, far - n * spread, near - n * half]))
            rows.append({"runway_id": r.runway_id, "end": round(float(np.degrees(np.arctan2(d[0], d[1])) % 360), 1),
                         "runway_length_m": round(r.length_m, 1)})
    frame = {k: [row[k] for row in rows] for k in ("runway_id", "end", "runway_length_m")}
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=WORKING_CRS)
