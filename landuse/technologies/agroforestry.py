"""Agroforestry and short-rotation coppice: the rule set ``agroforestry.yaml``, riparian tree
strips along waterways, the layout per field (alley cropping on large fields, coppice on
small ones), and the potential: wood chips, heat replacing a fossil fuel, soil carbon and the
standing biomass (a one-off stock)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from landuse.geometry import area_frame, clean, cut, map_chunks
from landuse.potential import C_TO_CO2, fossil_heat_g_per_kwh
from landuse.technologies import Assessment, Output, ResultLayer, Technology, register


class Agroforestry(Technology):
    """Tree strips and coppice on farmland; wood chips for village heating networks."""

    name = "agroforestry"
    title = "Agroforestry / coppice"
    color = "#1b7837"
    abbreviation = "af"
    rules_file = Path(__file__).with_name("agroforestry.yaml")
    values = ("riparian_strip_m", "alley_min_field_ha")
    summary_columns = ("riparian_ha",)
    layers = (ResultLayer("riparian", "Agroforestry: riparian tree strips (ha)", "polygon", "#00441b",
                          fields={"parcel_id": "Parcel", "eligible_ha": "Strip (ha)"}, simplify_m=1.0),)
    outputs = (
        Output("coppice_planted_ha", "Trees planted", "ha", 2, "area", headline=True),
        Output("coppice_t_dm_a", "Wood", "t DM/a", 1, "mass"),
        Output("heat_mwh_a", "Heat", "MWh/a", 0, "energy", headline=True),
        Output("coppice_avoided_t_co2e_a", "Wood-chip heat: avoided emissions", "t CO2e/a", 0, "avoided",
               territorial=True),
        Output("soil_sequestered_t_co2e_a", "Soil carbon", "t CO2e/a", 1, "sequestered"),
        Output("biomass_stock_t_co2e", "Standing biomass (one-off stock)", "t CO2e", 0, "stock"),
    )
    abbreviations = {"riparian": "rip", "layout": "lay", "soil": "soil", "credit": "cr"}

    def finish(self, a: Assessment) -> Assessment:
        """Riparian strips (``riparian_ha``), no soil credit on grassland, and the layout."""
        v, table = a.rules.values, a.table
        waterways = a.layers["waterways"].query("not tunnel").geometry.values
        zones = shapely.buffer(waterways, v.get("riparian_strip_m", 10.0), quad_segs=4) if len(waterways) \
            else waterways
        riparian = clean(map_chunks(shapely.difference, a.eligible, cut(a.eligible, zones)))
        table["riparian_ha"] = shapely.area(riparian) / 1e4
        table["no_soil_credit"] = a.parcels["class"].eq("grassland").to_numpy()
        table["layout"] = np.where(table["eligible_ha"] >= v.get("alley_min_field_ha", 5.0), "alley_cropping",
                                   np.where(table["eligible_ha"] > 0, "coppice", ""))
        a.layers_out["riparian"] = area_frame(a.parcels.index, riparian, table["riparian_ha"])
        return a

    def claim(self, scored: pd.DataFrame, potential: pd.DataFrame, *, rules) -> pd.DataFrame:
        """Fields claimed by their eligible area; food production lost: the planted share (tree
        strips of alley cropping, the whole field under coppice) on arable land."""
        eligible = self.column(scored, "eligible_ha")
        planted = pd.to_numeric(potential.get("coppice_planted_ha", 0.0), errors="coerce")
        arable = scored["class"].eq("arable").to_numpy() if "class" in scored else np.zeros(len(scored), bool)
        taken = np.where(arable & (eligible > 0), planted / eligible.where(eligible > 0, 1.0), 0.0)
        return pd.DataFrame({"units": eligible, "ha_per_unit": 1.0, "farmland_ha_per_unit": np.clip(taken, 0, 1)},
                            index=scored.index)

    def potential(self, scored: pd.DataFrame, values: Mapping[str, float], *, rules,
                  options: Mapping[str, Any]) -> pd.DataFrame:
        """Planted area = eligible area for coppice and ``riparian + alley_tree_share × (eligible −
        riparian)`` for alley cropping; ``t DM = ha × yield``; fuel ``MWh = t DM × heating value``;
        heat = fuel × chip boiler efficiency; substituted ``t = heat × (fossil factor / fossil boiler
        efficiency − chip factor / chip boiler efficiency) / 1000``; soil carbon ``ha × rate × 44/12``
        (no credit on former grassland); standing biomass ``ha × 0.5 × rotation × yield × carbon
        fraction × root factor × 44/12`` (a stock, not a yearly flow)."""
        p = values
        out = pd.DataFrame(index=scored.index)
        eligible = self.column(scored, "eligible_ha")
        riparian = np.minimum(self.column(scored, "riparian_ha"), eligible)
        layout = f"{self.name}_layout"
        alley = scored[layout].eq("alley_cropping") if layout in scored else False
        planted = pd.Series(np.where(alley, riparian + p["alley_tree_share"] * (eligible - riparian), eligible),
                            index=scored.index)
        out["coppice_planted_ha"] = planted
        out["coppice_t_dm_a"] = planted * p["coppice_yield_t_dm_ha_a"]
        fuel_mwh = out["coppice_t_dm_a"] * p["heating_value_kwh_per_kg_dm"]  # kWh/kg = MWh/t
        out["heat_mwh_a"] = fuel_mwh * p["chip_boiler_efficiency"]
        fossil = fossil_heat_g_per_kwh(p, options.get("replaced_fuel", "heating_oil"))
        chips = p["chip_supply_chain_g_co2e_per_kwh_fuel"] / p["chip_boiler_efficiency"]
        out["coppice_avoided_t_co2e_a"] = out["heat_mwh_a"] * (fossil - chips) / 1000
        grassland = scored["class"].eq("grassland").to_numpy() if "class" in scored else np.zeros(len(scored), bool)
        rate = np.where(alley, p["soil_carbon_alley_t_c_ha_a"], p["soil_carbon_coppice_t_c_ha_a"])
        out["soil_sequestered_t_co2e_a"] = np.where(grassland, 0.0, planted * rate * C_TO_CO2)
        out["biomass_stock_t_co2e"] = (planted * 0.5 * p["rotation_years"] * p["coppice_yield_t_dm_ha_a"]
                                       * p["carbon_fraction_t_c_per_t_dm"] * p["root_stool_factor"] * C_TO_CO2)
        return out


register(Agroforestry())
