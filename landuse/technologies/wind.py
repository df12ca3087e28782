"""Wind energy: the rule set ``wind.yaml`` (SächsBO §84(2) distances, FStrG, aviation …),
turbine placement in the eligible area with elliptical spacing, and the potential
(turbines × rated power × full-load hours)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely

from landuse import yields
from landuse.config import WORKING_CRS
from landuse.geometry import area_frame, map_threads
from landuse.technologies import Assessment, Output, ResultLayer, Technology, register

log = logging.getLogger(__name__)

#: Grid offsets tried per patch (k × k, in fractions of the spacing).
OFFSET_STEPS = 4


def _wind_axes(direction_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the wind (towards where it comes from) and across it."""
    theta = np.radians(direction_deg)
    u = np.array([np.sin(theta), np.cos(theta)])
    return u, np.array([u[1], -u[0]])


def place_turbines(
    eligible: gpd.GeoDataFrame,
    *,
    rotor_diameter_m: float,
    rated_power_mw: float,
    spacing_along_d: float = 5.0,
    spacing_across_d: float = 3.0,
    main_wind_direction_deg: float = 225.0,
    existing: np.ndarray | None = None,
    keep_out: shapely.Geometry | None = None,
    first_id: int = 1,
    id_prefix: str = "WT",
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
    existing : ndarray, optional
        (n, 2) tower positions (m) of turbines that stay; new ones keep the same spacing ellipse
        to them.
    keep_out : shapely.Geometry, optional
        Where no tower may stand (e.g. :func:`border_band`).
    first_id : int
        Number of the first ``turbine_id``.
    id_prefix : str
        Text before the number of each ``turbine_id``.

    Returns
    -------
    GeoDataFrame
        ``turbine_id``, ``parcel_id``, ``x``, ``y``, ``rated_power_mw``, point geometry.
    """
    columns = ["turbine_id", "parcel_id", "x", "y", "rated_power_mw"]
    empty = gpd.GeoDataFrame({c: pd.Series(dtype=object if c.endswith("_id") else float) for c in columns},
                             geometry=[], crs=WORKING_CRS)
    if eligible.empty:
        return empty
    radius = rotor_diameter_m / 2
    towers = shapely.buffer(shapely.union_all(eligible.geometry.values), -radius, quad_segs=16)
    if keep_out is not None and not keep_out.is_empty:
        towers = _difference(towers, keep_out)
    patches = shapely.get_parts(towers)
    patches = patches[~shapely.is_empty(patches)]
    if len(patches) == 0:
        return empty
    c = shapely.centroid(patches)
    order = np.lexsort((shapely.get_y(c), shapely.get_x(c), -np.round(shapely.area(patches), 3)))
    along, across = spacing_along_d * rotor_diameter_m, spacing_across_d * rotor_diameter_m
    u, v = _wind_axes(main_wind_direction_deg)
    placed = np.empty((0, 2)) if existing is None else np.asarray(existing, dtype=float).reshape(-1, 2)
    n_existing = len(placed)
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
    placed = placed[n_existing:]
    if len(placed) == 0:
        return empty
    points = shapely.points(placed)
    elig = eligible.reset_index()
    id_col = elig.columns[0]
    pi, ei = elig.sindex.query(points, predicate="dwithin", distance=1e-6)
    parcel = pd.Series(elig[id_col].to_numpy()[ei], index=pi).groupby(level=0).first().reindex(range(len(points)))
    return gpd.GeoDataFrame({
        "turbine_id": [f"{id_prefix}{i + first_id:04d}" for i in range(len(points))],
        "parcel_id": parcel.to_numpy(), "x": placed[:, 0], "y": placed[:, 1], "rated_power_mw": rated_power_mw,
    }, geometry=points, crs=WORKING_CRS)


def _difference(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """``a`` minus ``b``; where GEOS trips on an input that an inward buffer left invalid (a
    self-touching ring), both are repaired with ``make_valid`` first, which moves no edge."""
    try:
        return shapely.difference(a, b)
    except shapely.errors.GEOSException:
        log.info("Tower area: overlay failed; repaired the inputs with make_valid and retried")
        return shapely.difference(shapely.make_valid(a), shapely.make_valid(b))


def border_band(area: shapely.Geometry, *, along_m: float, across_m: float,
                main_wind_direction_deg: float = 225.0) -> shapely.Geometry:
    """Where a tower would come closer to the border of ``area`` than half the spacing ellipse.

    Towers outside the band of two neighbouring municipalities keep the whole ellipse to each
    other (the ellipse distance is a norm: half from each side adds up to one), so each
    municipality's turbines can be placed without its neighbours' — the same in every region
    and partition it is part of.

    Parameters
    ----------
    area : shapely.Geometry
        The municipality (EPSG:25833).
    along_m, across_m : float
        Spacing (m) along and across the main wind direction (the ellipse's full axes).
    main_wind_direction_deg : float

    Returns
    -------
    shapely.Geometry
        The band: the border swept by the half ellipse.
    """
    if area is None or area.is_empty:
        return shapely.Polygon()
    u, v = _wind_axes(main_wind_direction_deg)
    a, b = along_m / 2, across_m / 2
    # to the frame where the half ellipse is the unit circle, buffer by 1, and back
    to_unit = shapely.transform(shapely.boundary(area), lambda xy: np.column_stack([xy @ u / a, xy @ v / b]))
    band = shapely.buffer(to_unit, 1.0, quad_segs=16)
    return shapely.transform(band, lambda xy: xy[:, :1] * a * u + xy[:, 1:] * b * v)


def existing_units(plants: gpd.GeoDataFrame, eligible: np.ndarray, *, max_mw: float,
                   max_hub_m: float, home: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Existing wind units with their repowering candidacy.

    A unit is a candidate when a modern turbine could replace it: it is small or low (rated power
    up to ``max_mw`` or hub height up to ``max_hub_m``; the register has no commissioning year,
    so size stands in for age), or it stands in the eligible area of the new reference turbine.

    Parameters
    ----------
    plants : GeoDataFrame
        The ``existing_plants`` layer (EPSG:25833).
    eligible : ndarray
        Eligible geometries of the new turbines.
    max_mw, max_hub_m : float
    home : ndarray of str, optional
        AGS of the municipality each plant stands in (``""`` outside the region); numbers the
        units per municipality.

    Returns
    -------
    GeoDataFrame
        Points with ``unit_id`` (``EWT<ags>-01``…, by position), ``ags``, ``capacity_mw``,
        ``hub_height_m``, ``rotor_diameter_m``, ``candidate`` (bool) and ``why`` (``small``,
        ``in_eligible_area``).
    """
    is_wind = plants["technology"].eq("wind").to_numpy() if len(plants) else np.zeros(0, dtype=bool)
    wind = plants[is_wind]
    home = np.full(len(plants), "", dtype=object) if home is None else np.asarray(home, dtype=object)
    home = home[is_wind]
    pts = shapely.point_on_surface(wind.geometry.values) if len(wind) else np.array([], dtype=object)
    order = (np.lexsort((shapely.get_y(pts), shapely.get_x(pts), home.astype(str))) if len(pts)
             else np.array([], dtype=int))
    wind, pts, home = wind.iloc[order], pts[order], home[order]
    cap = pd.to_numeric(wind.get("capacity_mw", pd.Series(dtype=float)), errors="coerce").to_numpy(float)
    hub = pd.to_numeric(wind.get("hub_height_m", pd.Series(dtype=float)), errors="coerce").to_numpy(float)
    rotor = pd.to_numeric(wind.get("rotor_diameter_m", pd.Series(dtype=float)), errors="coerce").to_numpy(float)
    small = (cap <= max_mw) | (hub <= max_hub_m)
    area = shapely.union_all(eligible[~shapely.is_empty(eligible)]) if len(eligible) else shapely.Polygon()
    inside = shapely.intersects(area, pts) if len(pts) else np.zeros(0, dtype=bool)
    why = np.where(small, "small", np.where(inside, "in_eligible_area", ""))
    number = pd.Series(home).groupby(home).cumcount().to_numpy() + 1 if len(pts) else np.zeros(0, dtype=int)
    return gpd.GeoDataFrame({
        "unit_id": [f"EWT{h}-{k:02d}" for h, k in zip(home, number, strict=True)], "ags": home,
        "capacity_mw": cap, "hub_height_m": hub, "rotor_diameter_m": rotor, "candidate": small | inside, "why": why,
    }, geometry=list(pts), crs=WORKING_CRS)


def home_municipality(points: np.ndarray, parcels: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """AGS of the municipality each point stands in (``""`` outside the region's municipalities);
    without boundaries (fixtures), that of the nearest parcel."""
    out = np.full(len(points), "", dtype=object)
    if len(points) == 0:
        return out
    if len(boundaries):
        pi, bi = shapely.STRtree(boundaries.geometry.values).query(points, predicate="intersects")
        keep = np.isin(boundaries["ags"].astype(str).to_numpy()[bi], parcels["ags"].astype(str).unique())
        out[pi[keep]] = boundaries["ags"].astype(str).to_numpy()[bi[keep]]
        return out
    if len(parcels):
        near = parcels.sindex.nearest(points, return_all=False)
        out[near[0]] = parcels["ags"].astype(str).to_numpy()[near[1]]
    return out


def assign_replacements(units: gpd.GeoDataFrame, turbines: gpd.GeoDataFrame, radius_m: float) -> pd.Series:
    """Each repowering candidate to the nearest new turbine within ``radius_m`` (or none).

    Returns
    -------
    Series
        On ``units``' index: the ``turbine_id`` replacing the unit, ``""`` for none.
    """
    out = pd.Series("", index=units.index, dtype=object)
    cand = units[units["candidate"]]
    if cand.empty or turbines.empty:
        return out
    ti = turbines.sindex.nearest(cand.geometry.values, max_distance=radius_m, return_all=False)
    out.loc[cand.index[ti[0]]] = turbines["turbine_id"].to_numpy()[ti[1]]
    return out


class Wind(Technology):
    """Wind turbines of the reference type in the rule file, placed on a grid along the main wind."""

    name = "wind"
    title = "Wind"
    color = "#2166ac"
    abbreviation = "wd"
    rules_file = Path(__file__).with_name("wind.yaml")
    values = ("rated_power_mw", "rotor_diameter_m", "hub_height_m", "total_height_m", "main_wind_direction_deg",
              "spacing_along_d", "spacing_across_d", "footprint_ha",
              "approach_inner_edge_m", "approach_offset_m", "approach_divergence", "approach_length_m",
              "runway_min_length_m", "repowering_max_mw", "repowering_max_hub_m", "repowering_radius_total_heights",
              "roughness_length_m", "weibull_k", "wind_speed_correction", "wake_loss", "availability")
    unit_points = "turbines"
    summary_columns = ("turbines", "turbines_low", "turbines_high", "repowering_turbines", "removed_mw")
    layers = (ResultLayer("turbines", "Wind: turbines (placed)", "point", "#2166ac",
                          fields={"turbine_id": "Turbine", "parcel_id": "Parcel", "rated_power_mw": "Rated power (MW)",
                                  "full_load_hours_h_a": "Full-load hours (h/a)", "mwh_a": "Energy (MWh/a)",
                                  "repowering": "Repowering", "replaces": "Replaces units"},
                          per_parcel=False),
              ResultLayer("existing_turbines", "Wind: existing turbines (MaStR 2022)", "point", "#67001f",
                          fields={"unit_id": "Unit", "capacity_mw": "Rated power (MW)",
                                  "hub_height_m": "Hub height (m)", "rotor_diameter_m": "Rotor (m)",
                                  "candidate": "Repowering candidate", "replaced_by": "Replaced by"},
                          per_parcel=False),)
    outputs = (
        Output("wind_turbines", "Turbines", "count", 0, "count", headline=True),
        Output("wind_mw", "Wind capacity", "MW", 2, "capacity", headline=True),
        Output("wind_mwh_a", "Wind energy", "MWh/a", 0, "energy", electricity=True),
        Output("wind_avoided_t_co2e_a", "Wind: avoided emissions (net of replaced units)", "t CO2e/a", 0, "avoided"),
        Output("wind_repowering_turbines", "Turbines replacing existing units", "count", 0, "count", in_total=False),
        Output("wind_removed_mw", "Wind: existing capacity replaced (repowering)", "MW", 2, "capacity",
               in_total=False),
        Output("wind_removed_mwh_a", "Wind: energy of the replaced units", "MWh/a", 0, "energy", in_total=False),
    )
    field_units = {"turbines": "count", "repowering_turbines": "count", "removed_mw": "MW",
                   "mwh_a": "MWh/a", "mwh_a_low": "MWh/a", "mwh_a_high": "MWh/a", "removed_mwh_a": "MWh/a"}
    abbreviations = {"turbine": "tb", "turbines": "tb", "repowering": "rp", "removed": "rm"}

    def finish(self, a: Assessment) -> Assessment:
        """Place turbines in the eligible area, keeping the spacing ellipse to existing units that stay
        and replacing repowering candidates (see :func:`existing_units`) within
        ``repowering_radius_total_heights`` × total height; count them per parcel (``turbines``), and
        again at the ends of the declared ranges: ``turbines_low`` with the widest spacing and the
        largest rotor, ``turbines_high`` with the tightest spacing and the smallest rotor (the eligible
        area is the central turbine's). Energy per turbine from the wind-speed raster (:meth:`_yields`).

        Each municipality is placed on its own: its towers stand in its eligible area outside the
        :func:`border_band` of its border, and replace only units standing in it (the others stay and
        keep their spacing). So a municipality's turbines are the same whichever region or partition
        it is computed in."""
        v = a.rules.values
        area = area_frame(a.parcels.index, a.eligible, a.table["eligible_ha"])
        plants = a.layers["existing_plants"]
        home = home_municipality(shapely.point_on_surface(plants.geometry.values) if len(plants)
                                 else np.array([], dtype=object), a.parcels, a.layers["boundaries"])
        units = existing_units(plants, a.eligible, max_mw=v.get("repowering_max_mw", 0.0),
                               max_hub_m=v.get("repowering_max_hub_m", 0.0), home=home)
        radius = v.get("repowering_radius_total_heights", 0.0) * v.get("total_height_m", 0.0)
        zones: dict = {}  # repowering areas: the same units left open by another design give the same area
        for column, end in (("turbines", "value"), ("turbines_low", "low"), ("turbines_high", "high")):
            placed, replaced_by = self._place_per_municipality(a, area, units, self._design(a.rules, end), radius,
                                                               zones=zones)
            a.table[column] = placed.groupby("parcel_id").size().reindex(a.parcels.index).fillna(0).astype(int)
            if end != "value":
                continue
            placed = self._yields(a, placed)
            units = units.assign(replaced_by=replaced_by)
            removed = units[units["replaced_by"].ne("")].merge(
                placed[["turbine_id", "parcel_id"]], left_on="replaced_by", right_on="turbine_id")
            removed_mwh = self._unit_energy(a, removed)
            per_parcel = {
                "repowering_turbines": placed[placed["repowering"]].groupby("parcel_id").size(),
                "removed_mw": removed.groupby("parcel_id")["capacity_mw"].sum(),
                "removed_mwh_a": pd.Series(removed_mwh, index=removed.index).groupby(removed["parcel_id"]).sum(),
                **{c: placed.groupby("parcel_id")[c].sum(min_count=1) for c in ("mwh_a", "mwh_a_low", "mwh_a_high")},
            }
            for col, values in per_parcel.items():
                values = values.reindex(a.parcels.index)
                a.table[col] = values if col.startswith("mwh") else values.fillna(0)
            a.layers_out["turbines"] = placed
            # the units of the region's municipalities (those in the margin only kept their spacing)
            a.layers_out["existing_turbines"] = units[units["ags"].ne("")].reset_index(drop=True)
        return a

    def _place_per_municipality(self, a: Assessment, area: gpd.GeoDataFrame, units: gpd.GeoDataFrame,
                                design: dict[str, float], radius_m: float, *,
                                zones: dict | None = None) -> tuple[gpd.GeoDataFrame, pd.Series]:
        """:meth:`_place` for each municipality (by AGS), away from its border band; ``zones`` keeps
        each repowering area made (see :meth:`_place`)."""
        direction = a.rules.values.get("main_wind_direction_deg", 225)
        boundaries = a.layers["boundaries"]
        ags_of = a.parcels["ags"].astype(str)
        replaced_by = pd.Series("", index=units.index, dtype=object)

        def place_in(ags: str) -> tuple[gpd.GeoDataFrame, pd.Series, np.ndarray]:
            mine = ags_of.eq(ags).to_numpy()
            outline = boundaries.geometry.values[boundaries["ags"].astype(str).eq(ags).to_numpy()] \
                if len(boundaries) else []
            d = design["rotor_diameter_m"]
            band = border_band(shapely.union_all(outline), along_m=design["spacing_along_d"] * d,
                               across_m=design["spacing_across_d"] * d,
                               main_wind_direction_deg=direction) if len(outline) else None
            own = units["ags"].eq(ags).to_numpy()
            local = units.assign(candidate=units["candidate"] & own)  # other municipalities' units stay
            sub = dataclasses.replace(a, parcels=a.parcels[mine], table=a.table[mine], eligible=a.eligible[mine])
            here, by = self._place(sub, area[area.index.isin(a.parcels.index[mine])], local, design, radius_m,
                                   keep_out=band, id_prefix=f"WT{ags}-", zones=zones)
            return here, by, own

        # the municipalities are independent (each keeps to the units of the others, not to their
        # new turbines), so they are placed on threads; the zones' keys name the municipality
        placed = []
        for here, by, own in map_threads(place_in, sorted(ags_of.unique())):
            placed.append(here)
            replaced_by[own] = by[own]
        placed = pd.concat(placed, ignore_index=True) if placed else place_turbines(area.iloc[:0], **design)
        return gpd.GeoDataFrame(placed, geometry="geometry", crs=WORKING_CRS), replaced_by

    def _place(self, a: Assessment, area: gpd.GeoDataFrame, units: gpd.GeoDataFrame, design: dict[str, float],
               radius_m: float, *, keep_out: shapely.Geometry | None = None,
               id_prefix: str = "WT", zones: dict | None = None) -> tuple[gpd.GeoDataFrame, pd.Series]:
        """New turbines and the existing unit each replaces: first in the eligible area (spaced from
        the units that stay), then, for candidates none of them replaces, in the repowering area
        around them (where the rules allow repowering closer; a turbine there must replace a unit).

        The repowering area depends only on the parcels and the open units: ``zones`` (kept by the
        caller for one set of parcels and rules) gives it again where the same units are left open
        under another design (the range ends of rotor and spacing; default region: 2 of 6 made,
        each a full assessment of the parcels around the units)."""
        direction = a.rules.values.get("main_wind_direction_deg", 225)
        stay = shapely.get_coordinates(units.geometry.values[~units["candidate"].to_numpy()])
        placed = place_turbines(area, main_wind_direction_deg=direction, existing=stay, keep_out=keep_out,
                                id_prefix=id_prefix, **design)
        replaced_by = assign_replacements(units, placed, radius_m)
        open_units = units[units["candidate"] & replaced_by.eq("")]
        if len(open_units) and radius_m > 0:
            key = (id_prefix, tuple(open_units["unit_id"].astype(str)), radius_m)
            zone = zones.get(key) if zones is not None else None
            if zone is None:
                zone = self._repowering_area(a, open_units, radius_m)
                if zones is not None:
                    zones[key] = zone
            taken = np.vstack([stay, shapely.get_coordinates(placed.geometry.values)])
            extra = place_turbines(zone, main_wind_direction_deg=direction, existing=taken, keep_out=keep_out,
                                   first_id=len(placed) + 1, id_prefix=id_prefix, **design)
            extra_by = assign_replacements(open_units, extra, radius_m)
            extra = extra[extra["turbine_id"].isin(set(extra_by[extra_by.ne("")]))]
            replaced_by.loc[extra_by.index] = extra_by
            placed = pd.concat([placed, extra], ignore_index=True) if len(extra) else placed
        by_turbine = units.assign(by=replaced_by)[replaced_by.ne("")].groupby("by")["unit_id"].agg(";".join)
        placed = placed.assign(repowering=placed["turbine_id"].isin(by_turbine.index),
                               replaces=placed["turbine_id"].map(by_turbine).astype(object).fillna(""))
        return placed, replaced_by

    @staticmethod
    def _repowering_area(a: Assessment, units: gpd.GeoDataFrame, radius_m: float) -> gpd.GeoDataFrame:
        """Eligible area for turbines replacing ``units``: within ``radius_m`` of them, under the rule
        set with each exclusion's ``repowering_buffer`` where it has one. Only parcels and features
        near the units are assessed."""
        from landuse.layers import LayerSet
        from landuse.suitability import assess

        relaxed = [dataclasses.replace(e, buffer_m=e.repowering_buffer_m) if e.repowering_buffer_m is not None
                   else e for e in a.rules.exclusions]
        if relaxed == a.rules.exclusions:
            return area_frame(a.parcels.index[:0], np.array([], dtype=object), pd.Series(dtype=float))
        circles = shapely.union_all(shapely.buffer(units.geometry.values, radius_m, quad_segs=16))
        near = a.parcels.iloc[np.unique(a.parcels.sindex.query(circles, predicate="intersects"))]
        near = near.set_geometry(shapely.intersection(near.geometry.values, circles))
        reach = shapely.buffer(circles, max(e.buffer_m for e in relaxed) + 10.0)
        local = {name: (gdf if name == "aerodromes" or gdf.empty  # runway trapezoids reach 15 km
                        else gdf.iloc[np.unique(gdf.sindex.query(reach, predicate="intersects"))])
                 for name, gdf in a.layers.layers.items()}
        table, eligible = assess(near, LayerSet(local, a.layers.rasters, a.layers.manifest),
                                 dataclasses.replace(a.rules, exclusions=relaxed))
        return area_frame(near.index, eligible, table["eligible_ha"])

    @staticmethod
    def _speed_100m(a: Assessment, points: np.ndarray) -> np.ndarray:
        """Mean wind speed at 100 m (m/s) under each point from the layer store's ``wind_speed_100m``
        raster; NaN without it or outside it."""
        path = a.layers.rasters.get("wind_speed_100m")
        if path is None or not Path(path).exists() or len(points) == 0:
            return np.full(len(points), np.nan)
        with rasterio.open(path) as src:
            values = np.array([x[0] for x in src.sample(shapely.get_coordinates(points), masked=False)], dtype=float)
            if src.nodata is not None and not np.isnan(src.nodata):
                values[values == src.nodata] = np.nan
        return values

    @staticmethod
    def _full_load_hours(rules, v100: np.ndarray, *, rated_power_mw: float, rotor_diameter_m: float,
                         hub_height_m: float, end: str = "value") -> np.ndarray:
        """Full-load hours (h/a) at sites of mean speed ``v100`` (m/s at 100 m): the speed correction,
        wake loss and availability at their central values, or at the ends of their ranges that give
        the fewest (``low``) or most (``high``) hours."""
        v = rules.values

        def value(name: str, default: float, fewer: str = "low") -> float:
            p = rules.parameters.get(name)
            if p is None or end == "value":
                return v.get(name, default)
            return getattr(p, fewer if end == "low" else {"low": "high", "high": "low"}[fewer])

        correction = value("wind_speed_correction", 1.0)
        wake = value("wake_loss", 0.0, fewer="high")
        availability = value("availability", 1.0)
        speeds, power = yields.power_curve(rated_power_mw=rated_power_mw, rotor_diameter_m=rotor_diameter_m)
        hub = yields.hub_height_speed(v100 * correction, hub_height_m=hub_height_m,
                                      roughness_length_m=v.get("roughness_length_m", 0.1))
        return yields.weibull_full_load_hours(hub, speeds, power, rated_power_mw=rated_power_mw,
                                              weibull_k=v.get("weibull_k", 2.0),
                                              losses=1 - (1 - wake) * availability)

    def _yields(self, a: Assessment, placed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Per new turbine: the mean speed at 100 m and at hub height, full-load hours (central and at
        the range ends) and energy (MWh/a); NaN without a wind-speed raster (the potential then uses the
        parameter file's full-load hours)."""
        v = a.rules.values
        v100 = self._speed_100m(a, placed.geometry.values)
        if np.isnan(v100).all():
            return placed.assign(wind_speed_100m_ms=np.nan, wind_speed_hub_ms=np.nan, full_load_hours_h_a=np.nan,
                                 mwh_a=np.nan, mwh_a_low=np.nan, mwh_a_high=np.nan)
        design = {"rated_power_mw": v["rated_power_mw"], "rotor_diameter_m": v["rotor_diameter_m"],
                  "hub_height_m": v["hub_height_m"]}
        out = placed.assign(
            wind_speed_100m_ms=np.round(v100, 2),
            wind_speed_hub_ms=np.round(yields.hub_height_speed(
                v100 * v.get("wind_speed_correction", 1.0), hub_height_m=v["hub_height_m"],
                roughness_length_m=v.get("roughness_length_m", 0.1)), 2))
        for suffix, end in (("", "value"), ("_low", "low"), ("_high", "high")):
            flh = self._full_load_hours(a.rules, v100, end=end, **design)
            if suffix == "":
                out["full_load_hours_h_a"] = np.round(flh, 0)
            out[f"mwh_a{suffix}"] = flh * out["rated_power_mw"].to_numpy(float)
        return out

    def _unit_energy(self, a: Assessment, units: pd.DataFrame) -> np.ndarray:
        """Energy (MWh/a) of existing units from their own rated power, rotor and hub height (the same
        yield model; 0 where the register lacks one of them)."""
        if units.empty:
            return np.zeros(0)
        v100 = self._speed_100m(a, units.geometry.values)
        out = np.zeros(len(units))
        for k, (cap, rotor, hub) in enumerate(units[["capacity_mw", "rotor_diameter_m", "hub_height_m"]]
                                               .to_numpy(float)):
            if np.isnan([cap, rotor, hub, v100[k]]).any():
                continue
            out[k] = self._full_load_hours(a.rules, v100[k:k + 1], rated_power_mw=cap, rotor_diameter_m=rotor,
                                           hub_height_m=hub)[0] * cap
        return out

    @staticmethod
    def _design(rules, end: str) -> dict[str, float]:
        """Turbine and spacing at one end of the ranges: ``low`` counts fewest turbines (large
        rotor, wide spacing), ``high`` most (small rotor, tight spacing)."""
        def pick(name: str, fewer: str, default: float) -> float:
            p = rules.parameters.get(name)
            if p is None:
                return rules.values.get(name, default)
            if end == "value":
                return p.value
            return getattr(p, fewer if end == "low" else {"low": "high", "high": "low"}[fewer])

        return {"rotor_diameter_m": pick("rotor_diameter_m", "high", 160.0),
                "rated_power_mw": pick("rated_power_mw", "high", 5.56),
                "spacing_along_d": pick("spacing_along_d", "high", 5.0),
                "spacing_across_d": pick("spacing_across_d", "high", 3.0)}

    def potential_ranges(self, scored: pd.DataFrame, params: Mapping[str, Any], *, rules) -> dict:
        """Turbines and MW from the placement at the range ends (a large turbine at wide spacing,
        a small one at tight spacing), energy and avoided emissions from them with the parameter
        ends; the central values stay inside."""
        big, small = self._design(rules, "low"), self._design(rules, "high")
        n_big, n_small = self.column(scored, "turbines_low"), self.column(scored, "turbines_high")
        mw = pd.concat([n_big * big["rated_power_mw"], n_small * small["rated_power_mw"]], axis=1)
        mw_low, mw_high = mw.min(axis=1), mw.max(axis=1)
        flh, factor, life = (params[k] for k in ("wind_full_load_hours_h_a", "wind_avoided_g_co2e_per_kwh",
                                                 "wind_life_cycle_g_co2e_per_kwh"))
        # full-load hours per parcel at the ends of the yield ranges (raster), else the parameter's ends
        mw_central = self.column(scored, "turbines") * rules.values["rated_power_mw"]
        hours = {end: (self._energy(scored, mw_central, getattr(flh, end), f"mwh_a_{end}") / mw_central)
                 .where(mw_central > 0, getattr(flh, end)) for end in ("low", "high")}
        removed = self.column(scored, "removed_mwh_a")
        energy_low, energy_high = mw_low * hours["low"], mw_high * hours["high"]
        return {
            "wind_turbines": (n_big, n_small),
            "wind_mw": (mw_low, mw_high),
            "wind_mwh_a": (energy_low, energy_high),
            "wind_avoided_t_co2e_a": ((energy_low - removed).clip(lower=0) * (factor.low - life.high) / 1000,
                                      (energy_high - removed).clip(lower=0) * (factor.high - life.low) / 1000),
        }

    def claim(self, scored: pd.DataFrame, potential: pd.DataFrame, *, rules) -> pd.DataFrame:
        """Turbines claim their footprint (foundation, crane pad, access); the rest of a wind area
        stays farmland, Agri-PV or agroforestry."""
        footprint = rules.values.get("footprint_ha", 0.5)
        arable = scored["class"].eq("arable").astype(float) if "class" in scored else 0.0
        return pd.DataFrame({"units": self.column(scored, "turbines"), "ha_per_unit": footprint,
                             "farmland_ha_per_unit": arable * footprint}, index=scored.index)

    def potential(self, scored: pd.DataFrame, values: Mapping[str, float], *, rules,
                  options: Mapping[str, Any]) -> pd.DataFrame:
        """``MW = turbines × rated power`` (of the rule set in use); ``MWh = MW × full-load hours``;
        avoided ``t = MWh × (avoided − life-cycle) g/kWh / 1000``."""
        out = pd.DataFrame(index=scored.index)
        out["wind_turbines"] = self.column(scored, "turbines")
        out["wind_mw"] = out["wind_turbines"] * rules.values["rated_power_mw"]
        out["wind_mwh_a"] = self._energy(scored, out["wind_mw"], values["wind_full_load_hours_h_a"], "mwh_a")
        out["wind_repowering_turbines"] = self.column(scored, "repowering_turbines")
        out["wind_removed_mw"] = self.column(scored, "removed_mw")
        out["wind_removed_mwh_a"] = self.column(scored, "removed_mwh_a")
        out["wind_avoided_t_co2e_a"] = (out["wind_mwh_a"] - out["wind_removed_mwh_a"]) * (
            values["wind_avoided_g_co2e_per_kwh"] - values["wind_life_cycle_g_co2e_per_kwh"]) / 1000
        return out

    def _energy(self, scored: pd.DataFrame, mw: pd.Series, full_load_hours: float, column: str) -> pd.Series:
        """Energy (MWh/a) of the new turbines: from the wind-speed raster where the scoring gave it
        (``mwh_a``), else ``MW × full_load_hours`` of the parameter file."""
        col = f"{self.name}_{column}"
        fallback = mw * full_load_hours
        if col not in scored:
            return fallback
        return pd.to_numeric(scored[col], errors="coerce").where(lambda s: s.notna(), fallback)


register(Wind())
