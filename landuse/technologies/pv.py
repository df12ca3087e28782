"""Open-space PV: the rule set ``pv.yaml``, good farmland left to Agri-PV, the minimum plant
area, the EEG corridor bands along motorways and main railways, and the potential
(ha / land need × specific yield)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from landuse import yields
from landuse.geometry import area_frame, band_shares, drop_small_patches
from landuse.technologies import Assessment, Output, ResultLayer, Technology, register

#: Corridor bands (m from the lines): BauGB §35(1) 8b privileged 200 m; EEG 2023 §37 500 m.
CORRIDOR_BANDS_M = (200.0, 500.0)
CORRIDOR_CLASSES = ("privileged", "eeg", "outside")


#: Parcel attribute read for the yield: the mean of the layer store's raster ``irradiation``
#: (global irradiation on the horizontal, kWh/m²/a).
IRRADIATION = "irradiation_mean"


def specific_yield(parcels: pd.DataFrame, values: Mapping[str, float]) -> pd.Series:
    """Specific PV yield per parcel (kWh/kWp/a).

    From the parcel's mean irradiation (:data:`IRRADIATION`) corrected to the long-term level,
    times the module-plane gain and the performance ratio (:func:`landuse.yields.pv_specific_yield`);
    ``pv_specific_yield_kwh_per_kwp_a`` of the parameter file where a parcel has no irradiation.

    Parameters
    ----------
    parcels : DataFrame
        Parcels, with :data:`IRRADIATION` when the region has an irradiation raster.
    values : mapping
        Parameter values (``pv_irradiation_long_term_factor``, ``pv_plane_gain``,
        ``pv_performance_ratio``, ``pv_specific_yield_kwh_per_kwp_a``).

    Returns
    -------
    Series
        On ``parcels``' index.
    """
    fallback = pd.Series(values["pv_specific_yield_kwh_per_kwp_a"], index=parcels.index, dtype=float)
    if IRRADIATION not in parcels:
        return fallback
    kwh_kwp = yields.pv_specific_yield(pd.to_numeric(parcels[IRRADIATION], errors="coerce"),
                                       long_term_factor=values["pv_irradiation_long_term_factor"],
                                       plane_gain=values["pv_plane_gain"],
                                       performance_ratio=values["pv_performance_ratio"])
    return pd.Series(kwh_kwp, index=parcels.index).fillna(fallback)


class PV(Technology):
    """Ground-mounted PV; Agri-PV only on farmland too good for conventional PV."""

    name = "pv"
    title = "Open-space PV"
    color = "#e08214"
    abbreviation = "pv"
    rules_file = Path(__file__).with_name("pv.yaml")
    values = ("min_patch_ha", "agri_pv_nfk_mm")
    summary_columns = ("agri_pv_ha", "privileged_ha")
    show_eligible = True
    layers = (ResultLayer("agri_pv", "PV: Agri-PV only (good farmland, ha)", "polygon", "#e08214", style="outline",
                          fields={"parcel_id": "Parcel", "eligible_ha": "Agri-PV (ha)"}, show=False),)
    outputs = (
        Output("pv_mwp", "PV capacity", "MWp", 2, "capacity", headline=True),
        Output("pv_mwh_a", "PV energy", "MWh/a", 0, "energy", electricity=True),
        Output("pv_avoided_t_co2e_a", "PV: avoided emissions", "t CO2e/a", 0, "avoided"),
        Output("agri_pv_mwp", "Agri-PV capacity (apart)", "MWp", 2, "capacity", in_total=False),
        Output("agri_pv_mwh_a", "Agri-PV energy (apart)", "MWh/a", 0, "energy", in_total=False),
        Output("agri_pv_avoided_t_co2e_a", "Agri-PV: avoided emissions (apart)", "t CO2e/a", 0, "avoided",
               in_total=False),
    )
    abbreviations = {"privileged": "prv", "corridor": "cor", "agri": "agr", "eeg": "eeg"}

    def prepare(self, a: Assessment) -> Assessment:
        """Split off Agri-PV on good soils, drop patches below the minimum plant area, and
        measure each parcel's eligible area in the corridor bands (attribute ``corridor_band``)."""
        parcels, table, eligible, v = a.parcels, a.table, a.eligible, a.rules.values
        nfk = pd.to_numeric(parcels["nfk_mean"], errors="coerce") if "nfk_mean" in parcels else pd.Series(
            np.nan, index=parcels.index)
        # good farmland only: conversion land is no farmland, whatever its soil raster says
        farmland = parcels["class"].isin(["arable", "grassland"]).to_numpy()
        good_soil = (nfk > v.get("agri_pv_nfk_mm", np.inf)).to_numpy() & farmland
        table["agri_pv_ha"] = np.where(good_soil, table["eligible_ha"], 0.0)
        agri = np.where(good_soil, eligible, shapely.Polygon())
        eligible = np.where(good_soil, shapely.Polygon(), eligible)
        table.loc[good_soil & (table["eligible_ha"] > 0).to_numpy(), "reason"] += ";soil_agri_pv_only"
        eligible, small_share = drop_small_patches(eligible, v.get("min_patch_ha", 0) * 1e4,
                                                   groups=parcels["ags"].to_numpy() if "ags" in parcels else None)
        table["excl_min_patch_share"] = small_share
        table.loc[small_share > 0, "reason"] += ";min_patch"
        table["eligible_ha"] = shapely.area(eligible) / 1e4
        lines = np.concatenate([a.layers["roads"].query("`class` == 'motorway'").geometry.values,
                                a.layers["railways"].query("main").geometry.values])
        bands = band_shares(eligible, lines, CORRIDOR_BANDS_M)
        table["privileged_ha"] = np.nan_to_num(bands[:, 0]) * table["eligible_ha"]
        table["eeg_corridor_ha"] = np.nan_to_num(bands[:, 1]) * table["eligible_ha"]
        a.shares["corridor_band"] = pd.DataFrame(bands, index=parcels.index, columns=list(CORRIDOR_CLASSES))
        a.layers_out["agri_pv"] = area_frame(parcels.index, agri, table["agri_pv_ha"])
        a.eligible = eligible
        return a

    def potential(self, scored: pd.DataFrame, values: Mapping[str, float], *, rules,
                  options: Mapping[str, Any]) -> pd.DataFrame:
        """``MWp = ha / land need``; ``MWh = MWp × specific yield`` (per parcel, :func:`specific_yield`);
        avoided ``t = MWh × (avoided − life-cycle) g/kWh / 1000``; Agri-PV the same with its land need, apart."""
        out = pd.DataFrame(index=scored.index)
        net = values["pv_avoided_g_co2e_per_kwh"] - values["pv_life_cycle_g_co2e_per_kwh"]
        specific = specific_yield(scored, values)
        out["pv_mwp"] = self.column(scored, "eligible_ha") / values["pv_land_need_ha_per_mwp"]
        out["pv_mwh_a"] = out["pv_mwp"] * specific
        out["pv_avoided_t_co2e_a"] = out["pv_mwh_a"] * net / 1000
        out["agri_pv_mwp"] = self.column(scored, "agri_pv_ha") / values["agri_pv_land_need_ha_per_mwp"]
        out["agri_pv_mwh_a"] = out["agri_pv_mwp"] * specific
        out["agri_pv_avoided_t_co2e_a"] = out["agri_pv_mwh_a"] * net / 1000
        return out


register(PV())
