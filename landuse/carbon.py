"""Carbon balance against the urban emission load: sums per municipality, group and region,
coverage of the load (low/central/high), realisation shares and rule variants side by side,
monitoring snapshots, and the wood-chip value chain of a village heating network.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import Region
from landuse.errors import ConfigError, DataError
from landuse.parameters import PARAMETER_DIR, Parameter, load_parameters
from landuse.potential import FUELS

log = logging.getLogger(__name__)

#: Summary columns (yearly flows and capacities) that are summed; each has _low/_high.
SUM_COLUMNS = (
    "pv_mwp", "pv_mwh_a", "pv_avoided_t_co2e_a",
    "agri_pv_mwp", "agri_pv_mwh_a", "agri_pv_avoided_t_co2e_a",
    "wind_turbines", "wind_mw", "wind_mwh_a", "wind_avoided_t_co2e_a",
    "src_planted_ha", "src_t_dm_a", "heat_mwh_a", "src_avoided_t_co2e_a",
    "soil_sequestered_t_co2e_a", "biomass_stock_t_co2e",
    "avoided_t_co2e_a", "sequestered_t_co2e_a",
)
DEFAULT_SHARES = (0.10, 0.25, 0.50, 1.00)


def emission_loads(region: Region, municipalities: pd.DataFrame) -> pd.Series:
    """Emission load (t CO2e/a) per municipality, group and the region.

    Group figures come from the region's baseline (``ghg_t_co2e_a``). Municipalities of a
    group with several members get the group's load split by inhabitants (``inhabitants`` in
    the region config; NaN without them).

    Returns
    -------
    Series
        Indexed by (level, name): level "municipality", "group" or "region" (a group may share
        its name with a municipality, as Leipzig does).
    """
    groups = {g: v.get("ghg_t_co2e_a") for g, v in (region.baseline.get("groups") or {}).items()}
    loads = {}
    for m in region.municipalities:
        name = municipalities.loc[municipalities["ags"] == m.ags, "municipality"].iloc[0] \
            if m.ags and (municipalities["ags"] == m.ags).any() else m.name
        members = [x for x in region.municipalities if x.group == m.group]
        group_load = groups.get(m.group)
        if group_load is None:
            loads[("municipality", name)] = np.nan
        elif len(members) == 1:
            loads[("municipality", name)] = float(group_load)
        else:
            inh = [x.inhabitants for x in members]
            loads[("municipality", name)] = float(group_load) * m.inhabitants / sum(inh) if all(inh) else np.nan
    for g, v in groups.items():
        loads[("group", g)] = float(v) if v is not None else np.nan
    known = [v for v in groups.values() if v is not None]
    loads[("region", "Region")] = float(sum(known)) if len(known) == len(region.groups) else np.nan
    return pd.Series(loads, dtype=float)


def balance(parcels: pd.DataFrame, potential: pd.DataFrame, region: Region, share: float = 1.0) -> pd.DataFrame:
    """The balance: one row per municipality, group and the region.

    Parameters
    ----------
    parcels : DataFrame
        With ``municipality``, ``ags`` and ``municipality_group``.
    potential : DataFrame
        From :func:`landuse.potential.parcel_potential` (same index).
    region : Region
    share : float
        Share of the potential realised (0–1).

    Returns
    -------
    DataFrame
        ``level`` (municipality, group, region), every column of :data:`SUM_COLUMNS` with
        ``_low``/``_high``, ``emission_load_t_co2e_a``, ``coverage_share`` (+ ``_low``/``_high``):
        (avoided + sequestered) / load. Totals equal the sums of their parts.
    """
    if not 0 <= share <= 1:
        raise ConfigError(f"Share of the potential realised must lie in 0…1, got {share}.")
    cols = [c for base in SUM_COLUMNS for c in (base, f"{base}_low", f"{base}_high") if c in potential.columns]
    data = potential[cols].fillna(0.0) * share
    data["municipality"] = parcels["municipality"]
    data["group"] = parcels["municipality_group"]
    order = list(dict.fromkeys(parcels.sort_values("ags")["municipality"]))
    munis = data.groupby("municipality")[cols].sum().reindex(order, fill_value=0.0)
    groups = data.groupby("group")[cols].sum().reindex(region.groups, fill_value=0.0)
    total = data[cols].sum().to_frame("Region").T
    table = pd.concat([munis, groups, total])
    table.insert(0, "level", ["municipality"] * len(munis) + ["group"] * len(groups) + ["region"])
    table.insert(1, "share_realised", share)
    loads = emission_loads(region, parcels[["ags", "municipality"]].drop_duplicates())
    table["emission_load_t_co2e_a"] = loads.reindex(list(zip(table["level"], table.index, strict=True))).to_numpy()
    for sfx in ("", "_low", "_high"):
        flow = table[f"avoided_t_co2e_a{sfx}"] + table[f"sequestered_t_co2e_a{sfx}"]
        table[f"coverage_share{sfx}"] = flow / table["emission_load_t_co2e_a"]
    table.index.name = "area"
    return table


def side_by_side(summaries: dict[str, pd.DataFrame],
                 columns=("pv_mwp", "wind_turbines", "wind_mw", "src_planted_ha", "avoided_t_co2e_a",
                          "sequestered_t_co2e_a", "coverage_share")) -> pd.DataFrame:
    """Group and region rows of several balances (rule variants), with every realisation share,
    in one table: rows (rule variant, share, area), columns central value with low/high."""
    rows = []
    for variant, table in summaries.items():
        t = table[table["level"] != "municipality"]
        cols = [c for base in columns for c in (base, f"{base}_low", f"{base}_high") if c in t.columns]
        block = t[["share_realised", *cols]].copy()
        block.insert(0, "rule_variant", variant)
        rows.append(block)
    return pd.concat(rows).reset_index().set_index(["rule_variant", "share_realised", "area"]).sort_index(
        level=[0, 1], sort_remaining=False)


def format_balance(table: pd.DataFrame) -> str:
    """A short human-readable summary of the region and group rows."""
    lines = []
    for name, row in table[table["level"] != "municipality"].iterrows():
        lines.append(
            f"{name}: load {row['emission_load_t_co2e_a']:,.0f} t CO2e/a; potential "
            f"{row['share_realised']:.0%} realised avoids {row['avoided_t_co2e_a']:,.0f} "
            f"({row['avoided_t_co2e_a_low']:,.0f}–{row['avoided_t_co2e_a_high']:,.0f}) and sequesters "
            f"{row['sequestered_t_co2e_a']:,.0f} t CO2e/a → covers {row['coverage_share']:.0%} "
            f"({row['coverage_share_low']:.0%}–{row['coverage_share_high']:.0%})")
        lines.append(
            f"    PV {row['pv_mwp']:,.0f} MWp {row['pv_avoided_t_co2e_a']:,.0f} t/a · wind "
            f"{row['wind_turbines']:,.0f} turbines {row['wind_mw']:,.0f} MW {row['wind_avoided_t_co2e_a']:,.0f} t/a · "
            f"coppice {row['src_planted_ha']:,.0f} ha {row['src_t_dm_a']:,.0f} t DM/a {row['heat_mwh_a']:,.0f} MWh "
            f"heat/a {row['src_avoided_t_co2e_a']:,.0f} t/a + soil {row['soil_sequestered_t_co2e_a']:,.0f} t/a "
            f"(one-off stock {row['biomass_stock_t_co2e']:,.0f} t)")
    return "\n".join(lines)


# --- monitoring -------------------------------------------------------------------------

def save_snapshot(table: pd.DataFrame, folder: str | os.PathLike, date: dt.date | None = None) -> Path:
    """Save a balance as ``balance_<YYYY-MM-DD>.csv`` in ``folder`` (the monitoring series)."""
    from landuse.stats import write_table

    date = date or dt.date.today()
    return write_table(table, Path(folder) / f"balance_{date.isoformat()}.csv")


def compare_snapshots(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Indicator table: for each area and measure, old, new, change and change in %."""
    measures = ["pv_mwp", "wind_turbines", "wind_mw", "src_planted_ha", "heat_mwh_a", "avoided_t_co2e_a",
                "sequestered_t_co2e_a", "emission_load_t_co2e_a", "coverage_share"]
    # a group may share its name with a municipality (Leipzig): rows are keyed by level and area
    old = old.set_index("level", append=True)
    new = new.set_index("level", append=True)
    rows = []
    for key in new.index.append(old.index).unique():
        for m in measures:
            a = float(old[m].get(key, np.nan)) if m in old else np.nan
            b = float(new[m].get(key, np.nan)) if m in new else np.nan
            rows.append({"area": key[0], "level": key[1], "indicator": m, "old": a, "new": b, "change": b - a,
                         "change_pct": 100 * (b - a) / a if a else np.nan})
    return pd.DataFrame(rows)


# --- wood-chip value chain ------------------------------------------------------------

def heating_site(location: str | tuple[float, float], parcels: gpd.GeoDataFrame, layers) -> shapely.Point:
    """A heating network's location (EPSG:25833): "x,y" in EPSG:25833, "lon,lat", a tuple,
    or a municipality name (centre of its largest residential area)."""
    if isinstance(location, tuple):
        x, y = location
    else:
        parts = [s.strip() for s in str(location).split(",")]
        try:
            x, y = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            x = y = None
        if x is None:
            b = layers["boundaries"]
            hit = b[b["name"].str.casefold() == str(location).casefold()]
            if hit.empty:
                raise DataError(f"Heating site '{location}': not 'x,y', 'lon,lat' or a municipality of the region "
                                f"({', '.join(b['name'])}).")
            lc = layers["landcover"]
            res = lc[(lc["class"] == "residential") & lc.intersects(hit.geometry.iloc[0])]
            geom = res.geometry.iloc[int(np.argmax(res.geometry.area))] if len(res) else hit.geometry.iloc[0]
            return shapely.point_on_surface(geom)
    if abs(x) <= 180 and abs(y) <= 90:
        return gpd.GeoSeries([shapely.Point(x, y)], crs="EPSG:4326").to_crs(parcels.crs).iloc[0]
    return shapely.Point(x, y)


def woodchip_chain(parcels: gpd.GeoDataFrame, potential: pd.DataFrame, site: shapely.Point, heat_demand_mwh_a: float,
                   params: dict[str, Parameter] | None = None, chain: dict[str, Parameter] | None = None,
                   fuel: str = "heating_oil") -> dict:
    """Supply a heating network's demand with wood chips from the nearest coppice potential.

    Returns
    -------
    dict
        ``area_needed_ha``, ``t_dm_a``, ``supplying_parcels`` (ids nearest first),
        ``mean_transport_km`` (road distance, area-weighted), ``footprint`` (DataFrame:
        g CO2e per kWh of heat by stage), ``fossil_g_per_kwh_heat``, ``saving_t_co2e_a``,
        ``supplied_share`` (1 when the region's potential suffices).
    """
    if fuel not in FUELS:
        raise ConfigError(f"fuel must be one of {FUELS}")
    p = {k: v.value for k, v in (params or load_parameters(PARAMETER_DIR / "potential.yaml")).items()}
    c = {k: v.value for k, v in (chain or load_parameters(PARAMETER_DIR / "woodchips.yaml")).items()}
    eff = p["chip_boiler_efficiency"]
    fuel_mwh = heat_demand_mwh_a / eff
    t_dm = fuel_mwh / p["heating_value_kwh_per_kg_dm"]
    area = t_dm / p["src_yield_t_dm_ha_a"]
    planted = potential["src_planted_ha"]
    dist_km = pd.Series(shapely.distance(parcels.geometry.values, site) / 1000, index=parcels.index)
    order = dist_km[planted > 0].sort_values(kind="stable").index
    cum = planted[order].cumsum()
    n = int(np.searchsorted(cum.to_numpy(), area)) + 1
    chosen = order[:n]
    take = planted[chosen].copy()
    if len(take) and cum.iloc[min(n, len(cum)) - 1] > area:
        take.iloc[-1] -= cum.iloc[n - 1] - area
    supplied = float(take.sum())
    mean_km = float((dist_km[chosen] * take).sum() / supplied) * c["detour_factor"] if supplied else np.nan
    transport = (c["fresh_mass_per_dm"] * mean_km * c["truck_g_co2e_per_tkm"]
                 / (p["heating_value_kwh_per_kg_dm"] * 1000)) if supplied else np.nan  # g per kWh fuel
    stages = {
        "cultivation": c["cultivation_g_co2e_per_kwh_fuel"],
        "harvest_and_chipping": c["harvest_chipping_g_co2e_per_kwh_fuel"],
        "transport": transport,
        "drying_and_storage": c["drying_storage_g_co2e_per_kwh_fuel"],
        "combustion": c["combustion_g_co2e_per_kwh_fuel"],
    }
    footprint = pd.DataFrame({"g_co2e_per_kwh_fuel": stages})
    footprint["g_co2e_per_kwh_heat"] = footprint["g_co2e_per_kwh_fuel"] / eff
    footprint.loc["total"] = footprint.sum()
    fossil = (p["heating_oil_g_co2e_per_kwh_fuel"] / p["oil_boiler_efficiency"] if fuel == "heating_oil"
              else p["natural_gas_g_co2e_per_kwh_fuel"] / p["gas_boiler_efficiency"])
    share = min(supplied / area, 1.0) if area else 1.0
    saving = heat_demand_mwh_a * share * (fossil - footprint.loc["total", "g_co2e_per_kwh_heat"]) / 1000
    return {
        "heat_demand_mwh_a": heat_demand_mwh_a, "fuel_mwh_a": fuel_mwh, "t_dm_a": t_dm, "area_needed_ha": area,
        "supplying_parcels": list(chosen), "supplied_share": share, "mean_transport_km": mean_km,
        "footprint": footprint, "fossil_g_per_kwh_heat": fossil, "replaced_fuel": fuel, "saving_t_co2e_a": saving,
    }
