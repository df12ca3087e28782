"""Carbon balance against the urban emission load: sums per municipality, group and region,
coverage of the load (low/central/high), realisation shares and rule variants side by side,
and monitoring snapshots. The columns come from the registered technologies' outputs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from landuse import technologies
from landuse.config import Region
from landuse.errors import ConfigError

log = logging.getLogger(__name__)

TOTALS = ("avoided_t_co2e_a", "sequestered_t_co2e_a")


def sum_columns() -> list[str]:
    """Potential columns summed in the balance (every technology's outputs and the totals);
    each comes with ``_low`` and ``_high``."""
    return [o.column for o in technologies.all_outputs()] + list(TOTALS)


def headline_columns() -> list[str]:
    """Columns compared across rule variants and monitoring snapshots."""
    return [o.column for o in technologies.all_outputs() if o.headline] + list(TOTALS)


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
        ``level`` (municipality, group, region), every column of :func:`sum_columns` with
        ``_low``/``_high``, ``emission_load_t_co2e_a``, ``coverage_share`` (+ ``_low``/``_high``):
        (avoided + sequestered) / load. Totals equal the sums of their parts.
    """
    if not 0 <= share <= 1:
        raise ConfigError(f"Share of the potential realised must lie in 0…1, got {share}.")
    cols = [c for base in sum_columns() for c in (base, f"{base}_low", f"{base}_high") if c in potential.columns]
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


def side_by_side(summaries: dict[str, pd.DataFrame], *, columns: list[str] | None = None) -> pd.DataFrame:
    """Group and region rows of several balances (rule variants), with every realisation share,
    in one table: rows (rule variant, share, area), columns central value with low/high
    (default: :func:`headline_columns` and the coverage)."""
    columns = columns or [*headline_columns(), "coverage_share"]
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
    """A short human-readable summary of the region and group rows, one line per technology."""
    lines = []
    for name, row in table[table["level"] != "municipality"].iterrows():
        lines.append(
            f"{name}: load {row['emission_load_t_co2e_a']:,.0f} t CO2e/a; potential "
            f"{row['share_realised']:.0%} realised avoids {row['avoided_t_co2e_a']:,.0f} "
            f"({row['avoided_t_co2e_a_low']:,.0f}–{row['avoided_t_co2e_a_high']:,.0f}) and sequesters "
            f"{row['sequestered_t_co2e_a']:,.0f} t CO2e/a → covers {row['coverage_share']:.0%} "
            f"({row['coverage_share_low']:.0%}–{row['coverage_share_high']:.0%})")
        for tech in technologies.technologies():
            parts = [f"{o.label} {row[o.column]:,.{min(o.decimals, 1)}f} {o.unit}" for o in tech.outputs
                     if o.column in row.index]
            if parts:
                lines.append(f"    {tech.title}: " + " · ".join(parts))
    return "\n".join(lines)


# --- monitoring -------------------------------------------------------------------------

def save_snapshot(table: pd.DataFrame, folder: str | os.PathLike, date: dt.date | None = None) -> Path:
    """Save a balance as ``balance_<YYYY-MM-DD>.csv`` in ``folder`` (the monitoring series)."""
    from landuse.io import write_table

    date = date or dt.date.today()
    return write_table(table, Path(folder) / f"balance_{date.isoformat()}.csv")


def compare_snapshots(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Indicator table: for each area and measure, old, new, change and change in %."""
    measures = [*headline_columns(), "emission_load_t_co2e_a", "coverage_share"]
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
