"""Wind energy: the rule set ``wind.yaml`` (SächsBO §84(2) distances, FStrG, aviation …),
turbine placement in the eligible area with elliptical spacing, and the potential
(turbines × rated power × full-load hours)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import WORKING_CRS
from landuse.geometry import area_frame
from landuse.technologies import Assessment, Output, ResultLayer, Technology, register

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


class Wind(Technology):
    """Wind turbines of the reference type in the rule file, placed on a grid along the main wind."""

    name = "wind"
    title = "Wind"
    color = "#2166ac"
    abbreviation = "wd"
    rules_file = Path(__file__).with_name("wind.yaml")
    values = ("rated_power_mw", "rotor_diameter_m", "hub_height_m", "total_height_m", "main_wind_direction_deg",
              "spacing_along_d", "spacing_across_d", "footprint_ha")
    unit_points = "turbines"
    summary_columns = ("turbines", "turbines_low", "turbines_high")
    layers = (ResultLayer("turbines", "Wind: turbines (placed)", "point", "#2166ac",
                          fields={"turbine_id": "Turbine", "parcel_id": "Parcel", "rated_power_mw": "Rated power (MW)"},
                          per_parcel=False),)
    outputs = (
        Output("wind_turbines", "Turbines", "count", 0, "count", headline=True),
        Output("wind_mw", "Wind capacity", "MW", 2, "capacity", headline=True),
        Output("wind_mwh_a", "Wind energy", "MWh/a", 0, "energy", electricity=True),
        Output("wind_avoided_t_co2e_a", "Wind: avoided emissions", "t CO2e/a", 0, "avoided"),
    )
    field_units = {"turbines": "count"}
    abbreviations = {"turbine": "tb", "turbines": "tb"}

    def finish(self, a: Assessment) -> Assessment:
        """Place turbines in the eligible area; count them per parcel (``turbines``), and again at
        the ends of the declared ranges: ``turbines_low`` with the widest spacing and the largest
        rotor, ``turbines_high`` with the tightest spacing and the smallest rotor (the eligible area
        is the central turbine's)."""
        area = area_frame(a.parcels.index, a.eligible, a.table["eligible_ha"])
        for column, end in (("turbines", "value"), ("turbines_low", "low"), ("turbines_high", "high")):
            d = self._design(a.rules, end)
            placed = place_turbines(area, main_wind_direction_deg=a.rules.values.get("main_wind_direction_deg", 225),
                                    **d)
            a.table[column] = placed.groupby("parcel_id").size().reindex(a.parcels.index).fillna(0).astype(int)
            if end == "value":
                a.layers_out["turbines"] = placed
        return a

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
        return {
            "wind_turbines": (n_big, n_small),
            "wind_mw": (mw_low, mw_high),
            "wind_mwh_a": (mw_low * flh.low, mw_high * flh.high),
            "wind_avoided_t_co2e_a": (mw_low * flh.low * (factor.low - life.high) / 1000,
                                      mw_high * flh.high * (factor.high - life.low) / 1000),
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
        out["wind_mwh_a"] = out["wind_mw"] * values["wind_full_load_hours_h_a"]
        out["wind_avoided_t_co2e_a"] = out["wind_mwh_a"] * (
            values["wind_avoided_g_co2e_per_kwh"] - values["wind_life_cycle_g_co2e_per_kwh"]) / 1000
        return out


register(Wind())
