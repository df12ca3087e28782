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


def dated_loads(region: Region) -> pd.DataFrame:
    """Every emission load the region declares: each group's baseline (``baseline.groups``, the
    baseline year) and the dated loads (``baseline.loads``, measured or target), in t CO2e/a.

    Returns
    -------
    DataFrame
        ``group``, ``year``, ``kind`` (baseline, measured, target), ``t_co2e_a``, ``status``, ``source``.
    """
    base = region.baseline
    rows = [{"group": g, "year": base.get("year"), "kind": "baseline", "t_co2e_a": float(v["ghg_t_co2e_a"]),
             "status": base.get("status", ""), "source": base.get("source", "")}
            for g, v in (base.get("groups") or {}).items() if v and v.get("ghg_t_co2e_a") is not None]
    for load in base.get("loads") or []:
        value = load.get("t_co2e_a")
        if value is None:
            value = load["t_co2e_per_inhabitant"] * load["inhabitants"]
        rows.append({"group": load["group"], "year": load["year"], "kind": load.get("kind", "measured"),
                     "t_co2e_a": float(value), "status": load.get("status", ""), "source": load.get("source", "")})
    return pd.DataFrame(rows, columns=["group", "year", "kind", "t_co2e_a", "status", "source"])


def loads_in(region: Region, year: int | None = None) -> dict[str, tuple[float | None, int | None]]:
    """Each group's load held against the potential: the baseline (``year`` None), or the load
    of ``year`` (measured or target), else the latest measured one before it.

    Returns
    -------
    dict
        Group → (t CO2e/a or None, the year it is from).
    """
    loads = dated_loads(region)
    out = {}
    for g in region.groups:
        mine = loads[loads["group"] == g]
        if year is None:
            pick = mine[mine["kind"] == "baseline"]
        else:
            pick = mine[mine["year"] == year]
            if pick.empty:
                earlier = mine[(mine["kind"] != "target") & (mine["year"] <= year)]
                pick = earlier[earlier["year"] == earlier["year"].max()] if len(earlier) else earlier
        out[g] = (float(pick["t_co2e_a"].iloc[0]), int(pick["year"].iloc[0])) if len(pick) else (None, None)
    return out


def group_figures(region: Region, municipalities: pd.DataFrame, key: str, *,
                  figures: dict[str, float | None] | None = None) -> pd.Series:
    """A baseline figure (e.g. ``ghg_t_co2e_a``, ``energy_use_mwh_a``) per municipality, group and
    the region.

    Group figures come from the region's baseline. Municipalities of a group with several
    members get the group's figure split by inhabitants (``inhabitants`` in the region config;
    NaN without them); the region's is the sum when every group has one.

    Parameters
    ----------
    region : Region
    municipalities : DataFrame
        ``ags`` and ``municipality`` (name) of the municipalities in the parcels.
    key : str
        Name of the figure in ``baseline.groups.<group>``.
    figures : dict, optional
        Group → figure, instead of the baseline's (e.g. a dated load).

    Returns
    -------
    Series
        Indexed by (level, name): level "municipality", "group" or "region" (a group may share
        its name with a municipality, as Leipzig does).
    """
    groups = {g: (v or {}).get(key) for g, v in (region.baseline.get("groups") or {}).items()}
    if figures is not None:
        groups = dict(figures)
    out = {}
    for m in region.municipalities:
        name = municipalities.loc[municipalities["ags"] == m.ags, "municipality"].iloc[0] \
            if m.ags and (municipalities["ags"] == m.ags).any() else m.name
        members = [x for x in region.municipalities if x.group == m.group]
        figure = groups.get(m.group)
        if figure is None:
            out[("municipality", name)] = np.nan
        elif len(members) == 1:
            out[("municipality", name)] = float(figure)
        else:
            inh = [x.inhabitants for x in members]
            out[("municipality", name)] = float(figure) * m.inhabitants / sum(inh) if all(inh) else np.nan
    for g in region.groups:
        out[("group", g)] = float(groups[g]) if groups.get(g) is not None else np.nan
    known = [v for v in groups.values() if v is not None]
    out[("region", "Region")] = float(sum(known)) if known and len(known) == len(region.groups) else np.nan
    return pd.Series(out, dtype=float)


def emission_loads(region: Region, municipalities: pd.DataFrame, *, year: int | None = None) -> pd.Series:
    """Emission load (t CO2e/a, territorial) per municipality, group and the region: the baseline,
    or the loads of ``year`` (see :func:`loads_in` and :func:`group_figures`)."""
    if year is None:
        return group_figures(region, municipalities, "ghg_t_co2e_a")
    return group_figures(region, municipalities, "ghg_t_co2e_a",
                         figures={g: v for g, (v, _) in loads_in(region, year).items()})


TIERS = ("realistic", "technical")


def balance(parcels: pd.DataFrame, potential: pd.DataFrame, region: Region, share: float = 1.0, *,
            tier: str = "technical", load_year: int | None = None) -> pd.DataFrame:
    """The balance in both accounting frames: one row per municipality, group and the region.

    Parameters
    ----------
    parcels : DataFrame
        With ``municipality``, ``ags`` and ``municipality_group``.
    potential : DataFrame
        From :func:`landuse.potential.parcel_potential` (technical tier) or
        :func:`landuse.allocation.realistic_potential` (realistic tier), same index.
    region : Region
    share : float
        Share of the potential realised (0–1).
    tier : {"technical", "realistic"}
        Which potential this is: technical (each technology alone on all its eligible land,
        an upper bound per technology) or realistic (the allocation, one use per hectare).
    load_year : int, optional
        Hold the potential against the loads of this year (default: the baseline's).

    Returns
    -------
    DataFrame
        ``level``, ``tier``, ``share_realised``; every column of :func:`sum_columns` with
        ``_low``/``_high``; the baseline's ``emission_load_t_co2e_a`` and ``energy_use_mwh_a``;

        - avoided-emissions frame (UBA method, outside the territorial balance):
          ``avoided_t_co2e_a`` + ``sequestered_t_co2e_a`` and ``coverage_avoided_share`` of the load;
        - territorial frame (BISKO): ``territorial_t_co2e_a`` (what lowers the territorial load:
          local fossil heat replaced) and ``coverage_territorial_share``; sinks beside it
          (``sinks_t_co2e_a``); local renewable electricity ``local_electricity_mwh_a`` and its
          ``electricity_share_of_energy_use``.

        Totals equal the sums of their parts.
    """
    if not 0 <= share <= 1:
        raise ConfigError(f"Share of the potential realised must lie in 0…1, got {share}.")
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
    outputs = technologies.all_outputs()
    frames = {"territorial_t_co2e_a": [o.column for o in outputs if o.territorial and o.in_total],
              "local_electricity_mwh_a": [o.column for o in outputs if o.electricity and o.in_total]}
    data = potential.copy()
    for name, members in frames.items():
        for sfx in ("", "_low", "_high"):
            cols = [m + sfx for m in members if m + sfx in data]
            data[name + sfx] = data[cols].sum(axis=1) if cols else 0.0
    cols = [c for base in [*sum_columns(), *frames] for c in (base, f"{base}_low", f"{base}_high") if c in data]
    data = data[cols].fillna(0.0) * share
    data["municipality"] = parcels["municipality"]
    data["group"] = parcels["municipality_group"]
    named = parcels[["ags", "municipality", "municipality_group"]].drop_duplicates()
    order = list(dict.fromkeys(named.sort_values("ags", kind="stable")["municipality"]))
    munis = data.groupby("municipality")[cols].sum().reindex(order, fill_value=0.0)
    groups = data.groupby("group")[cols].sum().reindex(region.groups, fill_value=0.0)
    total = data[cols].sum().to_frame("Region").T
    table = pd.concat([munis, groups, total])
    table.insert(0, "level", ["municipality"] * len(munis) + ["group"] * len(groups) + ["region"])
    table.insert(1, "tier", tier)
    table.insert(2, "share_realised", share)
    municipalities = parcels[["ags", "municipality"]].drop_duplicates()
    keys = list(zip(table["level"], table.index, strict=True))
    table["emission_load_t_co2e_a"] = emission_loads(region, municipalities, year=load_year).reindex(keys).to_numpy()
    years = {g: y for g, (_, y) in loads_in(region, load_year).items()}
    group_of = dict(zip(named["municipality"], named["municipality_group"], strict=True))
    region_years = "/".join(str(y) for y in sorted({y for y in years.values() if y is not None}))
    table["emission_load_year"] = [str(years.get(group_of.get(name) if level == "municipality" else name) or "")
                                   if level != "region" else region_years for level, name in keys]
    table["energy_use_mwh_a"] = group_figures(region, municipalities, "energy_use_mwh_a").reindex(keys).to_numpy()
    load = table["emission_load_t_co2e_a"]
    for sfx in ("", "_low", "_high"):
        table[f"sinks_t_co2e_a{sfx}"] = table[f"sequestered_t_co2e_a{sfx}"]
        table[f"coverage_avoided_share{sfx}"] = (table[f"avoided_t_co2e_a{sfx}"]
                                                 + table[f"sequestered_t_co2e_a{sfx}"]) / load
        table[f"coverage_territorial_share{sfx}"] = table[f"territorial_t_co2e_a{sfx}"] / load
        table[f"electricity_share_of_energy_use{sfx}"] = table[f"local_electricity_mwh_a{sfx}"] / table[
            "energy_use_mwh_a"]
    table.index.name = "area"
    return table


def side_by_side(summaries: dict[str, pd.DataFrame], *, columns: list[str] | None = None) -> pd.DataFrame:
    """Group and region rows of several balances (rule variants), realistic tier, with every
    realisation share, in one table: rows (rule variant, share, area), columns ``tier`` and the
    central value with low/high (default: :func:`headline_columns` and the coverage in both frames)."""
    columns = columns or [*headline_columns(), "coverage_avoided_share", "coverage_territorial_share"]
    rows = []
    for variant, table in summaries.items():
        t = table[(table["level"] != "municipality") & (table.get("tier", "realistic") == "realistic")]
        cols = [c for base in columns for c in (base, f"{base}_low", f"{base}_high") if c in t.columns]
        block = t[["share_realised", *cols]].copy()
        block.insert(0, "rule_variant", variant)
        block.insert(1, "tier", "realistic")
        rows.append(block)
    return pd.concat(rows).reset_index().set_index(["rule_variant", "share_realised", "area"]).sort_index(
        level=[0, 1], sort_remaining=False)


def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.0%}"


def frame_table(summary: pd.DataFrame, *, share: float | None = None) -> pd.DataFrame:
    """The headline in words: rows tier × frame, columns the groups and the region.

    Each cell gives t CO2e/a (or MWh/a) with its share of the load (or of the energy use) and
    the low–high range, at the largest realisation share (or ``share``).
    """
    share = summary["share_realised"].max() if share is None else share
    rows = {}
    for tier in TIERS:
        block = summary[(summary["tier"] == tier) & (summary["share_realised"] == share)
                        & (summary["level"] != "municipality")]
        if block.empty:
            continue
        frames = {
            "avoided emissions (t CO2e/a, share of the load)": ("avoided_sum", "coverage_avoided_share"),
            "territorial: fossil heat replaced (t CO2e/a, share of the load)": ("territorial_t_co2e_a",
                                                                                "coverage_territorial_share"),
            "territorial: sinks beside the balance (t CO2e/a)": ("sinks_t_co2e_a", None),
            "territorial: local electricity (MWh/a, share of energy use)": ("local_electricity_mwh_a",
                                                                            "electricity_share_of_energy_use"),
        }
        for label, (col, ratio) in frames.items():
            cells = {}
            for name, row in block.iterrows():
                value = row["avoided_t_co2e_a"] + row["sequestered_t_co2e_a"] if col == "avoided_sum" else row[col]
                text = f"{value:,.0f}"
                if ratio and pd.isna(row[ratio]):
                    text += " (no emission load configured)"
                elif ratio:
                    text += f" ({_pct(row[ratio])}; {_pct(row[ratio + '_low'])}–{_pct(row[ratio + '_high'])})"
                cells[name] = text
            rows[(tier, label)] = cells
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["tier", "frame"])
    return out


def format_balance(table: pd.DataFrame) -> str:
    """A short human-readable summary of the region and group rows of one tier and share, one
    line per technology, each figure with its frame and unit."""
    lines = []
    for name, row in table[table["level"] != "municipality"].iterrows():
        lines.append(
            f"{name} ({row.get('tier', 'technical')} tier, {row['share_realised']:.0%} realised): load "
            f"{row['emission_load_t_co2e_a']:,.0f} t CO2e/a · avoided emissions {row['avoided_t_co2e_a']:,.0f} "
            f"({row['avoided_t_co2e_a_low']:,.0f}–{row['avoided_t_co2e_a_high']:,.0f}) + sinks "
            f"{row['sequestered_t_co2e_a']:,.0f} t CO2e/a = {_pct(row['coverage_avoided_share'])} of the load "
            f"(avoided frame) · territorial: {row['territorial_t_co2e_a']:,.0f} t CO2e/a = "
            f"{_pct(row['coverage_territorial_share'])} of the load, local electricity "
            f"{row['local_electricity_mwh_a']:,.0f} MWh/a = {_pct(row['electricity_share_of_energy_use'])} of the "
            "energy use")
        for tech in technologies.technologies():
            parts = [f"{o.label} {row[o.column]:,.{min(o.decimals, 1)}f} {o.unit}" for o in tech.outputs
                     if o.column in row.index]
            if parts:
                lines.append(f"    {tech.title}: " + " · ".join(parts))
    return "\n".join(lines)


# --- monitoring -------------------------------------------------------------------------

def trajectory(summary: pd.DataFrame, region: Region) -> pd.DataFrame:
    """The potential held against every dated load (baseline, measured, targets): per group and
    the region, the realistic tier at full realisation in both frames.

    Returns
    -------
    DataFrame
        Rows (area, year, kind); ``load_t_co2e_a``, ``avoided_and_sinks_t_co2e_a`` and
        ``coverage_avoided_share`` (avoided frame), ``territorial_t_co2e_a`` and
        ``coverage_territorial_share`` (territorial frame), ``status``, ``source``.
    """
    full = summary[(summary["share_realised"] == summary["share_realised"].max())
                   & (summary["tier"] == "realistic") & (summary["level"] != "municipality")]
    loads = dated_loads(region)
    rows = []
    years = sorted(set(loads["year"].dropna().astype(int)))
    for year in years:
        per_group = loads_in(region, year)
        for name, row in full.iterrows():
            if row["level"] == "group":
                value, used = per_group.get(name, (None, None))
                match = loads[(loads["group"] == name) & (loads["year"] == used)]
                kind = match["kind"].iloc[0] if len(match) else ""
                status = match["status"].iloc[0] if len(match) else ""
            else:
                known = [v for v, _ in per_group.values()]
                value = sum(known) if known and None not in known else None
                kinds = {loads.loc[(loads["group"] == g) & (loads["year"] == y), "kind"].iloc[0]
                         for g, (_, y) in per_group.items() if y is not None}
                kind, status, used = "/".join(sorted(kinds)), "", year
            flow = row["avoided_t_co2e_a"] + row["sequestered_t_co2e_a"]
            rows.append({"area": name, "year": year, "tier": "realistic", "load_from_year": used, "kind": kind,
                         "load_t_co2e_a": value,
                         "avoided_and_sinks_t_co2e_a": flow,
                         "coverage_avoided_share": flow / value if value else np.nan,
                         "territorial_t_co2e_a": row["territorial_t_co2e_a"],
                         "coverage_territorial_share": row["territorial_t_co2e_a"] / value if value else np.nan,
                         "status": status})
    return pd.DataFrame(rows).set_index(["area", "year"]) if rows else pd.DataFrame()


def save_snapshot(table: pd.DataFrame, folder: str | os.PathLike, date: dt.date | None = None) -> Path:
    """Save a balance as ``balance_<YYYY-MM-DD>.csv`` in ``folder`` (the monitoring series)."""
    from landuse.io import write_table

    date = date or dt.date.today()
    return write_table(table, Path(folder) / f"balance_{date.isoformat()}.csv")


def compare_snapshots(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Indicator table: for each area and measure, old, new, change and change in %."""
    measures = [*headline_columns(), "territorial_t_co2e_a", "local_electricity_mwh_a", "emission_load_t_co2e_a",
                "coverage_avoided_share", "coverage_territorial_share"]
    # a group may share its name with a municipality (Leipzig): rows are keyed by level, tier and area
    keys = ["level", "tier"] if "tier" in new and "tier" in old else ["level"]
    old = old.set_index(keys, append=True)
    new = new.set_index(keys, append=True)
    rows = []
    for key in new.index.append(old.index).unique():
        for m in measures:
            a = float(old[m].get(key, np.nan)) if m in old else np.nan
            b = float(new[m].get(key, np.nan)) if m in new else np.nan
            rows.append({"area": key[0], "level": key[1], **({"tier": key[2]} if len(key) > 2 else {}),
                         "indicator": m, "old": a, "new": b, "change": b - a,
                         "change_pct": 100 * (b - a) / a if a else np.nan})
    return pd.DataFrame(rows)
