"""Miscanthus, a fourth technology defined only under tests/: one module plus its YAML, and
nothing changed under landuse/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from landuse.geometry import area_frame
from landuse.technologies import Assessment, Output, ResultLayer, Technology

HEATING_VALUE_MWH_PER_T_DM = 4.8


class Miscanthus(Technology):
    name = "miscanthus"
    title = "Miscanthus"
    color = "#984ea3"
    abbreviation = "mc"
    rules_file = Path(__file__).with_name("miscanthus.yaml")
    values = ("yield_t_dm_ha_a", "min_field_ha")
    ranged_values = ("yield_t_dm_ha_a",)
    summary_columns = ("field_ha",)
    layers = (ResultLayer("fields", "Miscanthus: fields (ha)", "polygon", "#984ea3",
                          fields={"parcel_id": "Parcel", "eligible_ha": "Field (ha)"}),)
    outputs = (
        Output("miscanthus_ha", "Miscanthus", "ha", 2, "area", headline=True),
        Output("miscanthus_t_dm_a", "Miscanthus biomass", "t DM/a", 1, "mass"),
        Output("miscanthus_avoided_t_co2e_a", "Miscanthus heat: avoided emissions", "t CO2e/a", 0, "avoided"),
    )
    field_units = {"field_ha": "ha"}

    def finish(self, a: Assessment) -> Assessment:
        """Fields: eligible areas of at least ``min_field_ha``."""
        big = (a.table["eligible_ha"] >= a.rules.values["min_field_ha"]).to_numpy()
        a.table["field_ha"] = np.where(big, a.table["eligible_ha"], 0.0)
        a.layers_out["fields"] = area_frame(a.parcels.index[big], a.eligible[big], a.table["field_ha"][big])
        return a

    def potential(self, scored, values, *, rules, options):
        out = pd.DataFrame(index=scored.index)
        out["miscanthus_ha"] = self.column(scored, "field_ha")
        out["miscanthus_t_dm_a"] = out["miscanthus_ha"] * values["yield_t_dm_ha_a"]
        heat = out["miscanthus_t_dm_a"] * HEATING_VALUE_MWH_PER_T_DM * values["chip_boiler_efficiency"]
        out["miscanthus_avoided_t_co2e_a"] = heat * (
            values["natural_gas_g_co2e_per_kwh_fuel"] / values["gas_boiler_efficiency"]) / 1000
        return out
