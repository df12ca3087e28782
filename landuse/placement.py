"""Wind turbine placement in the eligible area with elliptical spacing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import WORKING_CRS

#: Grid offsets tried per patch (k × k, in fractions of the spacing).
OFFSET_STEPS = 4


def _wind_axes(direction_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the wind (towards where it comes from) and across it."""
    theta = np.radians(direction_deg)
    u = np.array([np.sin(theta), np.cos(theta)])
    return u, np.array([u[1], -u[0]])


def spacing_distance(a: np.ndarray, b: np.ndarray, along_m: float, across_m: float, direction_deg: float) -> np.ndarray:
    """Elliptical spacing distance between points (n×2 arrays): < 1 means b lies inside the
    spacing ellipse of a (semi-axes ``along_m`` along the wind and ``across_m`` across it)."""
    u, v = _wind_axes(direction_deg)
    d = b - a
    return np.hypot(d @ u / along_m, d @ v / across_m)


def place_turbines(
    eligible: gpd.GeoDataFrame,
    rotor_diameter_m: float,
    rated_power_mw: float,
    spacing_along_d: float = 5.0,
    spacing_across_d: float = 3.0,
    main_wind_direction_deg: float = 225.0,
) -> gpd.GeoDataFrame:
    """Place turbines in eligible areas with elliptical spacing.

    Each contiguous patch of the eligible area gets a grid aligned with the main wind
    direction (``spacing_along_d`` rotor diameters along the wind, ``spacing_across_d`` across
    it); of :data:`OFFSET_STEPS`² grid offsets the one giving most turbines wins. Patches are
    filled largest first, and a turbine is only placed outside the spacing ellipses of those
    already placed, so the spacing also holds across roads between patches. Every tower stands
    at least one rotor radius inside the eligible area, so the whole rotor disc lies in it.
    The result depends only on the eligible area (deterministic).

    Parameters
    ----------
    eligible : GeoDataFrame
        Eligible areas (EPSG:25833) indexed by parcel id; adjacent areas are merged.
    rotor_diameter_m, rated_power_mw : float
    spacing_along_d, spacing_across_d : float
        Spacing in rotor diameters along and across the main wind direction.
    main_wind_direction_deg : float
        Direction the wind comes from, degrees clockwise from north (225 = south-west).

    Returns
    -------
    GeoDataFrame
        ``turbine_id``, ``parcel_id``, ``x``, ``y``, ``rated_power_mw``, point geometry.
    """
    columns = ["turbine_id", "parcel_id", "x", "y", "rated_power_mw"]
    empty = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=WORKING_CRS)
    if eligible.empty:
        return empty
    radius = rotor_diameter_m / 2
    towers = shapely.buffer(shapely.union_all(eligible.geometry.values), -radius, quad_segs=16)
    patches = shapely.get_parts(towers)
    patches = patches[~shapely.is_empty(patches)]
    if len(patches) == 0:
        return empty
    c = shapely.centroid(patches)
    order = np.lexsort((shapely.get_y(c), shapely.get_x(c), -np.round(shapely.area(patches), 3)))
    along, across = spacing_along_d * rotor_diameter_m, spacing_across_d * rotor_diameter_m
    u, v = _wind_axes(main_wind_direction_deg)
    placed = np.empty((0, 2))
    fractions = np.arange(OFFSET_STEPS) / OFFSET_STEPS
    for patch in patches[order]:
        shapely.prepare(patch)
        corners = shapely.get_coordinates(shapely.envelope(patch))
        su, sv = corners @ u / along, corners @ v / across
        best = np.empty((0, 2))
        for fu in fractions:
            for fv in fractions:
                iu = np.arange(np.floor(su.min() - fu), np.ceil(su.max() - fu) + 1) + fu
                iv = np.arange(np.floor(sv.min() - fv), np.ceil(sv.max() - fv) + 1) + fv
                gu, gv = np.meshgrid(iu * along, iv * across, indexing="ij")
                xy = gu.ravel()[:, None] * u + gv.ravel()[:, None] * v
                inside = shapely.intersects_xy(patch, xy[:, 0], xy[:, 1])
                xy = xy[inside]
                if len(placed) and len(xy):
                    du = (xy @ u)[:, None] - (placed @ u)[None, :]
                    dv = (xy @ v)[:, None] - (placed @ v)[None, :]
                    xy = xy[(np.hypot(du / along, dv / across) >= 1 - 1e-9).all(axis=1)]
                if len(xy) > len(best):
                    best = xy
        placed = np.vstack([placed, best])
    if len(placed) == 0:
        return empty
    points = shapely.points(placed)
    elig = eligible.reset_index()
    id_col = elig.columns[0]
    pi, ei = elig.sindex.query(points, predicate="dwithin", distance=1e-6)
    parcel = pd.Series(elig[id_col].to_numpy()[ei], index=pi).groupby(level=0).first().reindex(range(len(points)))
    return gpd.GeoDataFrame({
        "turbine_id": [f"WT{i + 1:04d}" for i in range(len(points))],
        "parcel_id": parcel.to_numpy(), "x": placed[:, 0], "y": placed[:, 1], "rated_power_mw": rated_power_mw,
    }, geometry=points, crs=WORKING_CRS)
