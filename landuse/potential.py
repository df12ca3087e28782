"""Potential per parcel, each as low/central/high: every registered technology's formulas
(its ``potential`` hook: capacity, energy, biomass, heat, avoided and sequestered t CO2e/a)
and the totals over them.

Parameters live in ``landuse/parameters/potential.yaml`` (central value, range, unit, source)
plus the values a technology declares as ranged in its rule file. Units are in the column
names. Harvested carbon is never sequestration: it is burnt and counted as substitution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from landuse.errors import ConfigError
from landuse.parameters import PARAMETER_DIR, Parameter, load_parameters

C_TO_CO2 = 44.0 / 12.0
FUELS = ("heating_oil", "natural_gas")


def default_parameters(path=None) -> dict[str, Parameter]:
    """The potential parameters: the default file, or ``path`` (a user's copy: its names are
    checked against the default's, and parameters it leaves out keep their default)."""
    default = PARAMETER_DIR / "potential.yaml"
    return load_parameters(path or default, defaults=default)


def fossil_heat_g_per_kwh(values: Mapping[str, float], fuel: str) -> float:
    """Emissions of the fossil heat that wood-chip heat replaces (g CO2e per kWh of heat).

    Raises
    ------
    ConfigError
        ``fuel`` is not one of :data:`FUELS`.
    """
    if fuel == "heating_oil":
        return values["heating_oil_g_co2e_per_kwh_fuel"] / values["oil_boiler_efficiency"]
    if fuel == "natural_gas":
        return values["natural_gas_g_co2e_per_kwh_fuel"] / values["gas_boiler_efficiency"]
    raise ConfigError(f"Replaced fuel must be one of {', '.join(FUELS)}, got {fuel!r}.")


class _ReadValues(Mapping):
    """Parameter values that note which of them are read (looked up, tested or iterated over)."""

    def __init__(self, values: Mapping[str, float]):
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> float:
        self.read.add(name)
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        self.read.add(name)  # type: ignore[arg-type]
        return name in self._values

    def __iter__(self):
        self.read.update(self._values)
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


_UNSET = object()


def _technology_potential(name: str, scored: pd.DataFrame, values: Mapping[str, float], *, rules,
                          options: Mapping[str, Any], reuse: dict | None) -> pd.DataFrame:
    """A technology's potential; with ``reuse`` (a dict kept over the calls for one set of parcels)
    its first result is given again while every value it read then is unchanged.

    :func:`with_ranges` moves one parameter at a time, and most parameters are read by one
    technology: the others' formulas gave the same columns again (default region: 66 parameter
    sets, three technologies each). Only the first result is kept: one frame per technology,
    not one per parameter set (all of Saxony's parcels: some hundred MB each).
    """
    from landuse import technologies

    tech = technologies.get(name)
    if reuse is None:
        return tech.potential(scored, values, rules=rules, options=options)
    if name in reuse:
        read, frame = reuse[name]
        if all(values.get(k, _UNSET) == v for k, v in read):
            return frame
        return tech.potential(scored, values, rules=rules, options=options)
    recorded = _ReadValues(values)
    frame = tech.potential(scored, recorded, rules=rules, options=options)
    reuse[name] = (tuple((k, values.get(k, _UNSET)) for k in sorted(recorded.read)), frame)
    return frame


def potential_central(scored: pd.DataFrame, values: Mapping[str, float], *, rule_sets: Mapping[str, Any],
                      options: Mapping[str, Any] | None = None, reuse: dict | None = None) -> pd.DataFrame:
    """Potential per parcel for one set of parameter values.

    Parameters
    ----------
    scored : DataFrame
        Scored parcels (``<technology>_<column>`` results and parcel attributes).
    values : mapping
        Parameter values by name.
    rule_sets : mapping
        Technology name → rule set in use; each of these technologies contributes its columns.
    options : mapping, optional
        The region's balance settings (``replaced_fuel``).
    reuse : dict, optional
        Kept by the caller over calls for the same parcels, rule sets and options: a
        technology's result is reused while the values it read are unchanged.

    Returns
    -------
    DataFrame
        Every technology's output columns plus ``avoided_t_co2e_a`` and ``sequestered_t_co2e_a``
        (the sums of the flows that count in the totals), on the parcels' index.
    """
    from landuse import technologies

    options = options or {}
    parts = [_technology_potential(name, scored, values, rules=rules, options=options, reuse=reuse)
             for name, rules in rule_sets.items()]
    out = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=scored.index)
    for kind in ("avoided", "sequestered"):
        cols = [c for c in technologies.total_columns(kind) if c in out.columns]
        out[f"{kind}_t_co2e_a"] = out[cols].sum(axis=1) if cols else 0.0
    return out.fillna(0.0)


def with_ranges(compute: Callable[[dict[str, float]], pd.DataFrame], params: dict[str, Parameter]) -> pd.DataFrame:
    """Central results plus ``<column>_low`` and ``<column>_high``.

    For each output column every parameter is set to the end of its range that lowers (for
    ``_low``) or raises (for ``_high``) that column's total, found by moving one parameter at a
    time; so low ≤ central ≤ high holds for every column of a monotone formula.

    Only what the ends need is kept: of each one-parameter trial the columns it moves, and of
    the other parameter sets the columns they are for, one set at a time. (Keeping every trial
    whole held some fifty copies of the result, about 4 GB for the 400,000 parcels of Saxony.)
    """
    def key(values: dict[str, float]) -> tuple:
        return tuple(sorted(values.items()))

    central_values = {k: p.value for k, p in params.items()}
    central = compute(central_values)
    central_total = central.sum()
    # per parameter set, the columns in which it differs from the central result
    moved: dict[tuple, pd.DataFrame] = {key(central_values): central.iloc[:, :0]}
    totals = {}
    for name, prm in params.items():
        if prm.low == prm.high:
            continue
        for end in ("low", "high"):
            trial = dict(central_values, **{name: getattr(prm, end)})
            if key(trial) not in moved:
                frame = compute(trial)
                moved[key(trial)] = frame[[c for c in frame.columns if not frame[c].equals(central[c])]]
            total = central_total.copy()
            total[moved[key(trial)].columns] = moved[key(trial)].sum()
            totals[(name, end)] = total
    ends: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    for col in central.columns:
        lo_vals, hi_vals = dict(central_values), dict(central_values)
        for name, prm in params.items():
            if prm.low == prm.high:
                continue
            at_low, at_high = totals[(name, "low")][col], totals[(name, "high")][col]
            if at_low == at_high:  # the column does not depend on this parameter
                continue
            lo_vals[name], hi_vals[name] = (prm.low, prm.high) if at_low < at_high else (prm.high, prm.low)
        ends[col] = (lo_vals, hi_vals)
    wanted: dict[tuple, tuple[dict[str, float], list[str]]] = {}
    for col, pair in ends.items():
        for values in pair:
            if key(values) not in moved:
                wanted.setdefault(key(values), (values, []))[1].append(col)
    for k, (values, cols) in wanted.items():  # one result in memory at a time
        moved[k] = compute(values)[sorted(set(cols), key=list(central.columns).index)]

    def column(values: dict[str, float], col: str) -> pd.Series:
        frame = moved[key(values)]
        return frame[col] if col in frame.columns else central[col]

    out = central.copy()
    for col, (lo_vals, hi_vals) in ends.items():
        out[f"{col}_low"] = np.minimum(column(lo_vals, col), central[col])
        out[f"{col}_high"] = np.maximum(column(hi_vals, col), central[col])
    return out


def potential_parameters(rule_sets: Mapping[str, Any], path=None) -> dict[str, Parameter]:
    """The parameters of the potential: the parameter file plus each technology's ranged rule values."""
    from landuse import technologies

    params = default_parameters(path)
    for name, rules in rule_sets.items():
        for value in technologies.get(name).ranged_values:
            params[value] = rules.parameters[value]
    return params


def parcel_potential(scored: pd.DataFrame, *, rule_sets: Mapping[str, Any], params: dict[str, Parameter] | None = None,
                     options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Potential per parcel with ``_low``/``_high`` columns (on the parcels' index).

    Parameters
    ----------
    scored : DataFrame
        Scored parcels (the ``parcels`` result layer indexed by parcel id).
    rule_sets : mapping
        Technology name → rule set in use (e.g. the turbine's rated power comes from it).
    params : dict, optional
        Parameters (default: :func:`potential_parameters` of the default file).
    options : mapping, optional
        The region's balance settings (``replaced_fuel``).
    """
    from landuse import technologies

    params = params or potential_parameters(rule_sets)
    reuse: dict = {}
    out = with_ranges(lambda values: potential_central(scored, values, rule_sets=rule_sets, options=options,
                                                       reuse=reuse), params)
    changed = False
    for name, rules in rule_sets.items():
        for col, (low, high) in technologies.get(name).potential_ranges(scored, params, rules=rules).items():
            out[f"{col}_low"] = np.minimum(low.reindex(out.index).fillna(0.0), out[col])
            out[f"{col}_high"] = np.maximum(high.reindex(out.index).fillna(0.0), out[col])
            changed = True
    if changed:  # the totals' ends are the sums of their parts' ends (every formula is monotone)
        for kind in ("avoided", "sequestered"):
            cols = [c for c in technologies.total_columns(kind) if c in out]
            for sfx in ("_low", "_high"):
                out[f"{kind}_t_co2e_a{sfx}"] = out[[c + sfx for c in cols]].sum(axis=1) if cols else 0.0
    return out
