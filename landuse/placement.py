"""Wind turbine placement in the eligible area with elliptical spacing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import WORKING_CRS


def place_turbines(
    eligible: gpd.GeoDataFrame,
    rotor_diameter_m: float,
    rated_power_mw: float,
    spacing_along_d: float = 5.0,
    spacing_across_d: float = 3.0,
    main_wind_direction_deg: float = 225.0,
) -> gpd.GeoDataFrame:
    """Place turbines on a grid aligned with the main wind direction.

    Rows run across the wind; turbines are ``spacing_along_d`` rotor diameters apart along the
    wind and ``spacing_across_d`` across it, so no turbine lies inside another's spacing
    ellipse. Every tower stands at least one rotor radius inside the eligible area, so the
    whole rotor disc lies in it. The grid is anchored at the CRS origin: the same eligible
    area always gives the same turbines.

    Parameters
    ----------
    eligible : GeoDataFrame
        Eligible areas (EPSG:25833) with their parcel id as index; adjacent areas are merged.
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
    area = shapely.union_all(eligible.geometry.values)
    towers = shapely.buffer(area, -radius, quad_segs=16)
    if towers.is_empty:
        return empty
    along, across = spacing_along_d * rotor_diameter_m, spacing_across_d * rotor_diameter_m
    theta = np.radians(main_wind_direction_deg)
    # unit vectors: u along the wind (towards the direction it comes from), v across it
    u = np.array([np.sin(theta), np.cos(theta)])
    v = np.array([u[1], -u[0]])
    corners = np.array(shapely.get_coordinates(shapely.envelope(towers)))
    pu, pv = corners @ u, corners @ v
    iu = np.arange(np.floor(pu.min() / along), np.ceil(pu.max() / along) + 1)
    iv = np.arange(np.floor(pv.min() / across), np.ceil(pv.max() / across) + 1)
    gu, gv = np.meshgrid(iu * along, iv * across, indexing="ij")
    xy = gu.ravel()[:, None] * u + gv.ravel()[:, None] * v
    points = shapely.points(xy)
    shapely.prepare(towers)
    inside = shapely.contains(towers, points) | shapely.touches(towers, points)
    points = points[inside]
    if len(points) == 0:
        return empty
    elig = eligible.reset_index()
    id_col = elig.columns[0]
    pi, ei = elig.sindex.query(points, predicate="intersects")
    parcel = pd.Series(elig[id_col].to_numpy()[ei], index=pi).groupby(level=0).first()
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    order = np.lexsort((xs, -ys))
    points, xs, ys = points[order], xs[order], ys[order]
    parcel_ids = parcel.reindex(order).to_numpy()
    return gpd.GeoDataFrame({
        "turbine_id": [f"WT{i + 1:04d}" for i in range(len(points))],
        "parcel_id": parcel_ids, "x": xs, "y": ys, "rated_power_mw": rated_power_mw,
    }, geometry=points, crs=WORKING_CRS)
