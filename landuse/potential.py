"""Potential per parcel: capacity and energy (PV, wind), biomass and heat (short-rotation
coppice, agroforestry), fossil substitution and sequestration, each as low/central/high.

Formulas (units in the column names; parameters in ``landuse/parameters/potential.yaml``):

- PV: ``pv_mwp = pv_eligible_ha / pv_land_need``; ``pv_mwh_a = pv_mwp × specific_yield``
  (kWh/kWp = MWh/MWp); avoided ``t = MWh × (avoided − life_cycle) g/kWh / 1000``.
- Agri-PV (good farmland, reported apart, not in the totals): the same with the Agri-PV land need.
- Wind: ``wind_mw = turbines × rated_power``; ``wind_mwh_a = MW × full_load_hours``; avoided as PV.
- Coppice / agroforestry: planted area = eligible area for small fields ("coppice") and
  ``riparian + alley_tree_share × (eligible − riparian)`` for alley cropping; ``t DM = ha ×
  yield``; fuel ``MWh = t DM × heating_value``; heat = fuel × chip boiler efficiency;
  substituted ``t = heat × (fossil factor / fossil boiler efficiency − chip factor / chip
  boiler efficiency) / 1000``.
- Sequestration: soil carbon ``ha × rate × 44/12`` (no credit on former grassland); standing
  biomass (a one-off stock, not a yearly flow) ``ha × 0.5 × rotation × yield × carbon fraction ×
  root factor × 44/12``. Harvested carbon is never sequestration: it is burnt and counted as
  substitution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from landuse.parameters import PARAMETER_DIR, Parameter, load_parameters

C_TO_CO2 = 44.0 / 12.0
FUELS = ("heating_oil", "natural_gas")
#: Yearly flows that add up to the avoided and sequestered totals.
AVOIDED_COLUMNS = ("pv_avoided_t_co2e_a", "wind_avoided_t_co2e_a", "src_avoided_t_co2e_a")
SEQUESTERED_COLUMNS = ("soil_sequestered_t_co2e_a",)


def default_parameters(path=None) -> dict[str, Parameter]:
    """The potential parameters (default file or ``path``)."""
    return load_parameters(path or PARAMETER_DIR / "potential.yaml")


def _col(frame: pd.DataFrame, name: str, default=0.0) -> pd.Series:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").fillna(0.0)
    return pd.Series(default, index=frame.index, dtype=float)


def potential_central(parcels: pd.DataFrame, p: dict[str, float], turbine_mw: float,
                      fuel: str = "heating_oil") -> pd.DataFrame:
    """Potential per parcel for one set of parameter values (see the module doc).

    Parameters
    ----------
    parcels : DataFrame
        Scored parcels: ``pv_eligible_ha``, ``pv_agri_pv_ha``, ``wind_turbines``,
        ``agroforestry_eligible_ha``, ``agroforestry_riparian_ha``, ``agroforestry_layout``,
        ``class``. Missing columns count as zero.
    p : dict
        Parameter values by name.
    turbine_mw : float
        Rated power of the reference turbine (from the wind rule set).
    fuel : {"heating_oil", "natural_gas"}
        Fossil fuel the wood-chip heat replaces.
    """
    if fuel not in FUELS:
        raise ValueError(f"fuel must be one of {FUELS}, got {fuel!r}")
    out = pd.DataFrame(index=parcels.index)
    pv_net = p["pv_avoided_g_co2e_per_kwh"] - p["pv_life_cycle_g_co2e_per_kwh"]
    out["pv_mwp"] = _col(parcels, "pv_eligible_ha") / p["pv_land_need_ha_per_mwp"]
    out["pv_mwh_a"] = out["pv_mwp"] * p["pv_specific_yield_kwh_per_kwp_a"]
    out["pv_avoided_t_co2e_a"] = out["pv_mwh_a"] * pv_net / 1000
    out["agri_pv_mwp"] = _col(parcels, "pv_agri_pv_ha") / p["agri_pv_land_need_ha_per_mwp"]
    out["agri_pv_mwh_a"] = out["agri_pv_mwp"] * p["pv_specific_yield_kwh_per_kwp_a"]
    out["agri_pv_avoided_t_co2e_a"] = out["agri_pv_mwh_a"] * pv_net / 1000

    out["wind_turbines"] = _col(parcels, "wind_turbines")
    out["wind_mw"] = out["wind_turbines"] * turbine_mw
    out["wind_mwh_a"] = out["wind_mw"] * p["wind_full_load_hours_h_a"]
    out["wind_avoided_t_co2e_a"] = out["wind_mwh_a"] * (
        p["wind_avoided_g_co2e_per_kwh"] - p["wind_life_cycle_g_co2e_per_kwh"]) / 1000

    eligible = _col(parcels, "agroforestry_eligible_ha")
    riparian = np.minimum(_col(parcels, "agroforestry_riparian_ha"), eligible)
    alley = parcels["agroforestry_layout"].eq("alley_cropping") if "agroforestry_layout" in parcels else False
    planted = pd.Series(np.where(alley, riparian + p["alley_tree_share"] * (eligible - riparian), eligible),
                        index=parcels.index)
    out["src_planted_ha"] = planted
    out["src_t_dm_a"] = planted * p["src_yield_t_dm_ha_a"]
    fuel_mwh = out["src_t_dm_a"] * p["heating_value_kwh_per_kg_dm"]  # kWh/kg = MWh/t
    out["heat_mwh_a"] = fuel_mwh * p["chip_boiler_efficiency"]
    fossil = (p["heating_oil_g_co2e_per_kwh_fuel"] / p["oil_boiler_efficiency"] if fuel == "heating_oil"
              else p["natural_gas_g_co2e_per_kwh_fuel"] / p["gas_boiler_efficiency"])
    chips = p["chip_supply_chain_g_co2e_per_kwh_fuel"] / p["chip_boiler_efficiency"]
    out["src_avoided_t_co2e_a"] = out["heat_mwh_a"] * (fossil - chips) / 1000

    grassland = parcels["class"].eq("grassland").to_numpy() if "class" in parcels else np.zeros(len(parcels), bool)
    rate = np.where(alley, p["soil_carbon_alley_t_c_ha_a"], p["soil_carbon_coppice_t_c_ha_a"])
    out["soil_sequestered_t_co2e_a"] = np.where(grassland, 0.0, planted * rate * C_TO_CO2)
    out["biomass_stock_t_co2e"] = (planted * 0.5 * p["rotation_years"] * p["src_yield_t_dm_ha_a"]
                                   * p["carbon_fraction_t_c_per_t_dm"] * p["root_stool_factor"] * C_TO_CO2)
    out["avoided_t_co2e_a"] = out[list(AVOIDED_COLUMNS)].sum(axis=1)
    out["sequestered_t_co2e_a"] = out[list(SEQUESTERED_COLUMNS)].sum(axis=1)
    return out.fillna(0.0)


def with_ranges(compute: Callable[[dict[str, float]], pd.DataFrame], params: dict[str, Parameter]) -> pd.DataFrame:
    """Central results plus ``<column>_low`` and ``<column>_high``.

    For each output column every parameter is set to the end of its range that lowers (for
    ``_low``) or raises (for ``_high``) that column's total, found by moving one parameter at a
    time; so low ≤ central ≤ high holds for every column of a monotone formula.
    """
    central_values = {k: p.value for k, p in params.items()}
    central = compute(central_values)
    totals = {}
    for name, prm in params.items():
        if prm.low == prm.high:
            continue
        for end in ("low", "high"):
            trial = dict(central_values, **{name: getattr(prm, end)})
            totals[(name, end)] = compute(trial).sum()
    out = central.copy()
    for col in central.columns:
        lo_vals, hi_vals = dict(central_values), dict(central_values)
        for name, prm in params.items():
            if prm.low == prm.high:
                continue
            at_low, at_high = totals[(name, "low")][col], totals[(name, "high")][col]
            lo_vals[name], hi_vals[name] = (prm.low, prm.high) if at_low <= at_high else (prm.high, prm.low)
        out[f"{col}_low"] = np.minimum(compute(lo_vals)[col], central[col])
        out[f"{col}_high"] = np.maximum(compute(hi_vals)[col], central[col])
    return out


def parcel_potential(parcels: pd.DataFrame, params: dict[str, Parameter] | None = None, turbine_mw: float = 5.56,
                     fuel: str = "heating_oil") -> pd.DataFrame:
    """Potential per parcel with low/central/high (on the parcels' index)."""
    params = params or default_parameters()
    return with_ranges(lambda values: potential_central(parcels, values, turbine_mw, fuel), params)
