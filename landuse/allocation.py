"""Land allocation, one hectare, one use: the realistic tier beside the technical one.

The technical tier gives each technology all its eligible land: an upper bound per
technology, never to be added across them. The allocation shares each parcel's land among
the technologies so that no hectare carries two uses that exclude each other (the
compatibility table, ``landuse/parameters/allocation.yaml``), under the constraints a region
declares (a cap on ground-mounted PV, a farmland floor, an adoption share for agroforestry,
classes a use keeps out of), either

- ``optimise``: a linear programme (integer turbine counts) solved with HiGHS through
  :func:`scipy.optimize.milp`, maximising the objective (t CO2e/a, MWh/a or score × ha); or
- ``priority``: the uses in a declared order, each taking the best land the earlier ones left
  (each step the same programme with one use in the objective and the earlier steps fixed).

Constraints are per municipality, so the programme splits by municipality. Per parcel, for
every set of uses that exclude each other, their land adds up to at most the union of their
eligible areas (Hall's condition: the parts fit side by side). The allocated parts are then
drawn: turbine footprints first, then each area use on its eligible area minus what the
excluding uses already hold, its own exclusive land first, cut to the allocated hectares.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from landuse import schema
from landuse import technologies as registry
from landuse.config import WORKING_CRS, Region
from landuse.errors import ConfigError
from landuse.geometry import clean
from landuse.parameters import PARAMETER_DIR
from landuse.schema import AllocationConfig, Constraints

log = logging.getLogger(__name__)

ALLOCATION_FILE = PARAMETER_DIR / "allocation.yaml"
TOL_HA = 1e-6


# --- configuration --------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """The constraints in force in one municipality (values, not entries)."""

    farmland_floor: float | None = None
    technologies: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_allocation(region: Region | None = None, path: str | os.PathLike | None = None) -> AllocationConfig:
    """The allocation settings: the default file (or ``path``) with the region's ``allocation:``
    section over it, validated (one-line errors naming the file and key path).

    Raises
    ------
    ConfigError
        Invalid settings, an unknown technology, or a municipality the region does not have.
    """
    path = Path(path) if path else ALLOCATION_FILE
    raw = schema.read_yaml(path, what="Allocation file") or {}
    where = path
    if region is not None and region.raw.get("allocation"):
        raw, where = schema.merge(raw, region.raw["allocation"]), f"{region.path}: allocation"
    cfg = schema.validate(AllocationConfig, raw, path=where)
    names = registry.names()
    used = [u for c in cfg.compatible for u in c.uses] + [p.technology for p in cfg.priority] + list(
        cfg.constraints.technologies) + [t for m in cfg.municipalities.values() for t in m.technologies]
    schema.check_names(used, names, path=where, what="technology")
    if region is not None:
        known = [m.name for m in region.municipalities if m.name]
        schema.check_names(list(cfg.municipalities), known, path=where, what="municipality")
    return cfg


def _values(c: Constraints) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if c.farmland_floor is not None:
        out["farmland_floor"] = c.farmland_floor.value
    techs = {}
    for name, lim in c.technologies.items():
        entry = {k: getattr(lim, k).value for k in ("max_share_of_area", "max_share_of_eligible", "max_ha", "min_ha",
                                                    "min_share_of_area")
                 if getattr(lim, k) is not None}
        if "exclude_classes" in lim.model_fields_set:
            entry["exclude_classes"] = list(lim.exclude_classes)
        techs[name] = entry
    out["technologies"] = techs
    return out


def municipality_limits(cfg: AllocationConfig, municipality: str) -> Limits:
    """The region's constraints with the municipality's own values over them."""
    merged = schema.merge(_values(cfg.constraints), _values(cfg.municipalities[municipality])) \
        if municipality in cfg.municipalities else _values(cfg.constraints)
    return Limits(merged.get("farmland_floor"), merged.get("technologies", {}))


def incompatible(cfg: AllocationConfig, names: list[str]) -> list[tuple[str, ...]]:
    """Sets of uses (two or more) that pairwise exclude each other on a hectare."""
    ok = {frozenset(c.uses) for c in cfg.compatible}
    sets = []
    for k in range(2, len(names) + 1):
        for combo in itertools.combinations(names, k):
            if all(frozenset(pair) not in ok for pair in itertools.combinations(combo, 2)):
                sets.append(combo)
    return sets


# --- the programme --------------------------------------------------------------------

@dataclass
class Claims:
    """Per technology and parcel: units available, land and farmland per unit, objective per unit."""

    units: pd.DataFrame
    ha_per_unit: pd.DataFrame
    farmland_per_unit: pd.DataFrame
    value_per_unit: pd.DataFrame
    eligible: dict[str, np.ndarray]


def claims(scored: gpd.GeoDataFrame, potential: pd.DataFrame, results: Mapping[str, gpd.GeoDataFrame], *,
           rule_sets: Mapping[str, Any], objective: str = "t_co2e") -> Claims:
    """What each technology could take of each parcel (the technical tier), and what it is worth."""
    cols = {k: {} for k in ("units", "ha", "farm", "value")}
    eligible = {}
    for name, rules in rule_sets.items():
        tech = registry.get(name)
        c = tech.claim(scored, potential, rules=rules)
        units = c["units"].reindex(scored.index).fillna(0.0).clip(lower=0)
        cols["units"][name] = units
        cols["ha"][name] = pd.Series(c["ha_per_unit"], index=scored.index, dtype=float)
        cols["farm"][name] = pd.Series(c["farmland_ha_per_unit"], index=scored.index, dtype=float)
        if objective == "score_area":
            total = pd.to_numeric(scored.get(f"{name}_score"), errors="coerce").fillna(0) * cols["ha"][name] * units
        else:
            kinds = ("avoided", "sequestered") if objective == "t_co2e" else ("energy",)
            out = [o.column for o in tech.outputs if o.kind in kinds and o.in_total and o.column in potential]
            total = potential[out].sum(axis=1).reindex(scored.index).fillna(0.0) if out else units * 0
        cols["value"][name] = (total / units.where(units > 0)).fillna(0.0)
        frame = results.get(f"{name}_eligible")
        geoms = np.full(len(scored), shapely.Polygon(), dtype=object)
        if frame is not None and len(frame):
            pos = scored.index.get_indexer(frame["parcel_id"] if "parcel_id" in frame else frame.index)
            ok = pos >= 0
            geoms[pos[ok]] = frame.geometry.values[ok]
        eligible[name] = geoms
    df = {k: pd.DataFrame(v, index=scored.index) for k, v in cols.items()}
    return Claims(df["units"], df["ha"], df["farm"], df["value"], eligible)


@dataclass
class _Programme:
    """The linear programme of one municipality."""

    var_tech: list[str]
    var_parcel: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    rows: list[tuple[np.ndarray, np.ndarray, float, float, str]]  # (vars, coefficients, lb, ub, name)


def _programme(idx: np.ndarray, cl: Claims, scored: pd.DataFrame, limits: Limits, sets: list[tuple[str, ...]],
               municipal_ha: float) -> _Programme:
    names = list(cl.units.columns)
    var_tech, var_parcel, upper, integer = [], [], [], []
    classes = scored["class"].to_numpy()
    for name in names:
        units = cl.units[name].to_numpy()[idx]
        keep = units > TOL_HA
        excluded = limits.technologies.get(name, {}).get("exclude_classes", [])
        if excluded:
            keep &= ~np.isin(classes[idx], excluded)
        var_tech += [name] * int(keep.sum())
        var_parcel.append(idx[keep])
        upper.append(units[keep])
        integer += [registry.get(name).unit_points is not None] * int(keep.sum())
    var_parcel = np.concatenate(var_parcel) if var_parcel else np.array([], int)
    upper = np.concatenate(upper) if upper else np.array([])
    var_tech_arr = np.array(var_tech, dtype=object)
    ha = np.array([cl.ha_per_unit[t].iat[p] for t, p in zip(var_tech, var_parcel, strict=True)], float)
    rows = []
    # one hectare, one use: per parcel and set of excluding uses, their land ≤ the union of their eligible areas
    for combo in sets:
        # this municipality's parcels only (idx is sorted): the work stays per partition
        union = shapely.area(shapely.union_all(np.stack([cl.eligible[t][idx] for t in combo]), axis=0)) / 1e4
        in_set = np.flatnonzero(np.isin(var_tech_arr, combo))
        by_parcel = pd.Series(in_set).groupby(var_parcel[in_set])
        for p, members in by_parcel:
            if len(members) < 2:
                continue
            m = members.to_numpy()
            local = int(np.searchsorted(idx, p))
            rows.append((m, ha[m], -np.inf, float(union[local]) + TOL_HA, f"one use per hectare ({', '.join(combo)})"))
    for name, lim in limits.technologies.items():
        sel = np.flatnonzero(var_tech_arr == name)
        if "max_share_of_area" in lim:
            rows.append((sel, ha[sel], -np.inf, lim["max_share_of_area"] * municipal_ha, f"{name}.max_share_of_area"))
        if "max_share_of_eligible" in lim:
            rows.append((sel, np.ones(len(sel)), -np.inf, lim["max_share_of_eligible"] * float(upper[sel].sum()),
                         f"{name}.max_share_of_eligible"))
        if "max_ha" in lim:
            rows.append((sel, ha[sel], -np.inf, lim["max_ha"], f"{name}.max_ha"))
        if "min_ha" in lim:
            rows.append((sel, ha[sel], lim["min_ha"], np.inf, f"{name}.min_ha"))
        if "min_share_of_area" in lim and len(sel):
            # each unit stands for its share of the parcel's eligible area (a wind area holds its turbines);
            # the target holds as far as the land the other limits leave allows
            elig = shapely.area(cl.eligible[name][var_parcel[sel]]) / 1e4
            per_unit = elig / np.maximum(upper[sel], TOL_HA)
            target = min(lim["min_share_of_area"] * municipal_ha, float(elig.sum()))
            rows.append((sel, per_unit, target - TOL_HA, np.inf, f"{name}.min_share_of_area"))
    if limits.farmland_floor is not None:
        arable = float(scored["area_ha"].to_numpy()[idx][classes[idx] == "arable"].sum())
        farm = np.array([cl.farmland_per_unit[t].iat[p] for t, p in zip(var_tech, var_parcel, strict=True)], float)
        rows.append((np.arange(len(var_tech)), farm, -np.inf, (1 - limits.farmland_floor) * arable, "farmland_floor"))
    return _Programme(var_tech, var_parcel, upper, np.array(integer, bool), rows)


def _solve(prog: _Programme, c: np.ndarray, lower: np.ndarray, upper: np.ndarray, where: str) -> np.ndarray:
    n = len(prog.var_tech)
    if n == 0:
        return np.zeros(0)
    constraints = []
    if prog.rows:
        r = np.concatenate([np.full(len(v), i) for i, (v, *_rest) in enumerate(prog.rows)])
        cidx = np.concatenate([v for v, *_ in prog.rows])
        vals = np.concatenate([w for _, w, *_ in prog.rows])
        a = coo_matrix((vals, (r, cidx)), shape=(len(prog.rows), n)).tocsr()
        constraints = [LinearConstraint(a, [row[2] for row in prog.rows], [row[3] for row in prog.rows])]
    res = milp(-c, constraints=constraints, integrality=prog.integer.astype(int), bounds=Bounds(lower, upper),
               options={"presolve": True})
    if res.status == 2 or res.x is None:
        raise ConfigError(f"Allocation infeasible in {where}: {_culprit(prog, lower, upper)}")
    x = np.clip(res.x, lower, upper)
    return np.where(prog.integer, np.round(x), x)


def _culprit(prog: _Programme, lower: np.ndarray, upper: np.ndarray) -> str:
    """The minimum target that cannot be met, with what is reachable (for the one-line error)."""
    for k, (v, w, lb, _ub, name) in enumerate(prog.rows):
        if lb == -np.inf:
            continue
        others = _Programme(prog.var_tech, prog.var_parcel, prog.upper, prog.integer,
                            [r for i, r in enumerate(prog.rows) if i != k])
        c = np.zeros(len(prog.var_tech))
        c[v] = w
        try:
            best = float(c @ _solve(others, c, lower, upper, ""))
        except ConfigError:
            continue
        if best < lb - TOL_HA:
            return (f"constraint {name} = {lb:,.1f} ha cannot be met; at most {best:,.1f} ha fit the eligible land "
                    "and the other constraints. Lower the target or raise a cap in the allocation settings.")
    return "the constraints exclude each other; check the minimum targets against the caps in the allocation settings."


def allocate(scored: gpd.GeoDataFrame, potential: pd.DataFrame, results: Mapping[str, gpd.GeoDataFrame], *,
             rule_sets: Mapping[str, Any], config: AllocationConfig,
             municipal_area_ha: Mapping[str, float] | None = None,
             claimed: Claims | None = None) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Share every parcel's land among the technologies (the realistic tier).

    Parameters
    ----------
    scored : GeoDataFrame
        Scored parcels indexed by parcel id (``municipality``, ``class``, ``area_ha``, results).
    potential : DataFrame
        Technical potential per parcel (same index).
    results : mapping
        Result layers (``<technology>_eligible``, unit point layers such as ``wind_turbines``).
    rule_sets : mapping
        Technology → rule set in use.
    config : AllocationConfig
        Compatibility table, method, objective and constraints (:func:`load_allocation`).
    municipal_area_ha : mapping, optional
        Municipality → area (ha) for caps given as a share of the area (default: its parcels).
    claimed : Claims, optional
        :func:`claims` with ``config.objective``, when the caller has it already.

    Returns
    -------
    (DataFrame, GeoDataFrame)
        Allocated units per parcel (columns: technologies; ha, or turbines) and the ``allocation``
        layer: the parcel parts with ``parcel_id``, ``municipality``, ``use``, ``units``, ``ha``.

    Raises
    ------
    ConfigError
        The constraints cannot all hold (the message names the constraint).
    """
    names = list(rule_sets)
    cl = claimed or claims(scored, potential, results, rule_sets=rule_sets, objective=config.objective)
    sets = incompatible(config, names)
    areas = municipal_area_ha or scored.groupby("municipality")["area_ha"].sum().to_dict()
    allocated = pd.DataFrame(0.0, index=scored.index, columns=names)
    municipalities = scored["municipality"].to_numpy()
    for muni in pd.unique(municipalities):
        idx = np.flatnonzero(municipalities == muni)
        prog = _programme(idx, cl, scored, municipality_limits(config, muni), sets, float(areas.get(muni, 0.0)))
        value = np.array([cl.value_per_unit[t].iat[p] for t, p in zip(prog.var_tech, prog.var_parcel, strict=True)])
        tech = np.array(prog.var_tech, dtype=object)
        if config.method == "optimise":
            x = _solve(prog, value, np.zeros(len(value)), prog.upper, muni)
        else:
            x = _priority(prog, value, tech, scored, config, muni)
        for t in names:
            sel = tech == t
            allocated.loc[scored.index[prog.var_parcel[sel]], t] = x[sel]
    return _draw(scored, allocated, cl, results, sets, names)


def _priority(prog: _Programme, value: np.ndarray, tech: np.ndarray, scored: pd.DataFrame,
              config: AllocationConfig, where: str) -> np.ndarray:
    """The declared order: each step maximises one use on the land the earlier steps left."""
    lower, upper = np.zeros(len(value)), np.zeros(len(value))
    fixed = np.zeros(len(value), bool)
    for step in config.priority:
        sel = (tech == step.technology) & ~fixed
        if step.where:
            try:
                hits = scored.index.get_indexer(scored.query(step.where).index)
            except Exception as exc:  # noqa: BLE001 - pandas' query errors, named for the user
                raise ConfigError(f"allocation.priority[{step.label or step.technology}].where: {step.where!r} does "
                                  f"not fit the scored parcels ({type(exc).__name__}: {exc}).") from None
            ok = np.zeros(len(scored), bool)
            ok[hits] = True
            sel &= ok[prog.var_parcel]
        if not sel.any():
            continue
        upper[sel] = prog.upper[sel]
        x = _solve(prog, np.where(sel, value, 0.0), lower, upper, where)
        lower[sel] = upper[sel] = x[sel]
        fixed |= sel
    return lower


# --- the parts ------------------------------------------------------------------------

def cut_to_area(geom: shapely.Geometry, target_m2: float) -> shapely.Geometry:
    """The west part of ``geom`` with area ``target_m2`` (bisection on a north–south cut line)."""
    area = geom.area
    if target_m2 >= area - 1e-6:
        return geom
    if target_m2 <= 0:
        return shapely.Polygon()
    minx, miny, maxx, maxy = geom.bounds
    lo, hi = minx, maxx
    for _ in range(40):
        mid = (lo + hi) / 2
        if shapely.intersection(geom, shapely.box(minx - 1, miny - 1, mid, maxy + 1)).area < target_m2:
            lo = mid
        else:
            hi = mid
    return shapely.intersection(geom, shapely.box(minx - 1, miny - 1, hi, maxy + 1))


def _draw(scored: gpd.GeoDataFrame, allocated: pd.DataFrame, cl: Claims, results, sets, names):
    """Draw the allocated parts; area uses get the hectares their parts measure."""
    n = len(scored)
    parts: dict[str, np.ndarray] = {}
    excluding = {t: {s for combo in sets if t in combo for s in combo if s != t} for t in names}
    point_techs = [t for t in names if registry.get(t).unit_points]
    area_techs = [t for t in names if t not in point_techs]
    for t in point_techs:
        geoms = np.full(n, shapely.Polygon(), dtype=object)
        layer = results.get(f"{t}_{registry.get(t).unit_points}")
        if layer is not None and len(layer):
            radius = np.sqrt(cl.ha_per_unit[t].to_numpy() * 1e4 / np.pi)
            pts = layer.sort_values(layer.columns[0]).groupby("parcel_id")
            for pid, group in pts:
                k = scored.index.get_indexer([pid])[0]
                count = int(round(allocated[t].iat[k])) if k >= 0 else 0
                if count > 0:
                    geoms[k] = shapely.union_all(shapely.buffer(group.geometry.values[:count], radius[k], quad_segs=8))
        parts[t] = clean(geoms)
    for t in area_techs:
        target = allocated[t].to_numpy() * 1e4
        avail = cl.eligible[t].copy()
        for s in excluding[t]:
            if s in parts:
                avail = shapely.difference(avail, parts[s])
        pending = [s for s in excluding[t] if s not in parts]
        own = avail
        for s in pending:
            own = shapely.difference(own, cl.eligible[s])
        geoms = np.full(n, shapely.Polygon(), dtype=object)
        for k in np.flatnonzero(target > 1.0):
            first = cut_to_area(own[k], target[k])
            rest = target[k] - first.area
            if rest > 1.0:
                first = shapely.union(first, cut_to_area(shapely.difference(avail[k], own[k]), rest))
            geoms[k] = first
        parts[t] = clean(geoms)  # polygons only: cuts along an edge leave lines and points
        allocated[t] = shapely.area(parts[t]) / 1e4
    rows = []
    for t in names:
        geoms = parts[t]
        keep = ~shapely.is_empty(geoms)
        ids = scored.index[keep]
        rows.append(gpd.GeoDataFrame({"parcel_id": ids, "municipality": scored.loc[ids, "municipality"].to_numpy(),
                                      "use": t, "units": allocated.loc[ids, t].to_numpy(),
                                      "ha": shapely.area(geoms[keep]) / 1e4}, geometry=geoms[keep], crs=WORKING_CRS))
    layer = pd.concat(rows, ignore_index=True) if rows else gpd.GeoDataFrame(
        columns=["parcel_id", "municipality", "use", "units", "ha"], geometry=[], crs=WORKING_CRS)
    return allocated, gpd.GeoDataFrame(layer, geometry="geometry", crs=WORKING_CRS)


def realistic_potential(technical: pd.DataFrame, units: pd.DataFrame, allocated: pd.DataFrame) -> pd.DataFrame:
    """Each technology's potential columns (central, low, high) scaled per parcel by the share
    of its units allocated; the totals recomputed. Columns reported apart (``in_total`` False,
    e.g. Agri-PV) keep their technical value: they are outside both tiers' totals.

    Parameters
    ----------
    technical : DataFrame
        Technical potential per parcel (:func:`landuse.potential.parcel_potential`).
    units : DataFrame
        Units available per parcel and technology (:attr:`Claims.units`).
    allocated : DataFrame
        Units allocated (same shape).
    """
    out = technical.copy()
    for name in allocated.columns:
        share = (allocated[name] / units[name].where(units[name] > 0)).fillna(0.0).clip(0, 1)
        for o in registry.get(name).outputs:
            if not o.in_total:  # reported apart (Agri-PV): its own line, outside both tiers' totals
                continue
            for col in (o.column, f"{o.column}_low", f"{o.column}_high"):
                if col in out:
                    out[col] = out[col] * share
    for kind in ("avoided", "sequestered"):
        for sfx in ("", "_low", "_high"):
            cols = [c + sfx for c in registry.total_columns(kind) if c + sfx in out]
            out[f"{kind}_t_co2e_a{sfx}"] = out[cols].sum(axis=1) if cols else 0.0
    return out


__all__ = ["load_allocation", "allocate", "claims", "incompatible", "municipality_limits", "realistic_potential",
           "cut_to_area", "AllocationConfig"]
