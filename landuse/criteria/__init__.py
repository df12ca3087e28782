"""Rule sets (criteria) per technology, declared in YAML and validated on load.

Each rule set (``wind.yaml``, ``pv.yaml``, ``agroforestry.yaml``) holds hard exclusions
(a layer, a feature filter, a buffer in metres that may be an expression of the turbine's
dimensions) and soft criteria (a parcel attribute, a scoring curve or class map, a weight).
Every value carries unit, range, source and status. A user copies a file, changes a value and
passes the folder or file with ``--criteria``.
"""

from __future__ import annotations

import ast
import copy
import operator
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from landuse import schema
from landuse.errors import ConfigError
from landuse.parameters import Parameter

CRITERIA_DIR = Path(__file__).resolve().parent
#: Derived layers a rule may name besides the canonical ones, with the columns they add.
DERIVED_LAYERS = {"building_groups": ("buildings", {"group_id": 0, "group_size": 0}),
                  "approach_surfaces": ("aerodromes", {"runway_id": "", "end": 0.0, "runway_length_m": 0.0}),
                  "site_buildings": ("buildings", {})}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def evaluate(expr: str | float, names: dict[str, float], where: str = "") -> float:
    """Evaluate a buffer: a number or an arithmetic expression of named values (+ - * /).

    Parameters
    ----------
    expr : str or float
        A number or an expression such as ``"2 * rotor_diameter_m"``.
    names : dict of str to float
        Values the expression may name.
    where : str
        Location of the value in the rule file, for messages.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        An unknown name, or text that is not a number or an arithmetic expression.
    """
    if isinstance(expr, int | float):
        return float(expr)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ConfigError(f"{where}: unknown name '{node.id}' in '{expr}'; known: {sorted(names)}.")
            return float(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        raise ConfigError(f"{where}: '{expr}' is not a number or an arithmetic expression.")

    try:
        return ev(ast.parse(str(expr), mode="eval"))
    except SyntaxError as exc:
        raise ConfigError(f"{where}: '{expr}' is not a valid expression.") from exc


@dataclass
class Exclusion:
    """A hard exclusion: features of ``layer`` matching ``where``, buffered by ``buffer_m``."""

    name: str
    layer: str
    where: str | None
    buffer_m: float
    source: str
    status: str
    #: Buffer (m) for repowering turbines where the law lets them come closer; None: ``buffer_m``.
    repowering_buffer_m: float | None = None


@dataclass
class Limit:
    """A hard limit on a parcel attribute: a parcel above ``maximum`` or below ``minimum`` is not
    eligible (a parcel without a value passes: the data say nothing against it)."""

    name: str
    attribute: str
    minimum: float | None
    maximum: float | None
    unit: str
    source: str
    status: str


@dataclass
class Criterion:
    """A soft criterion: sub-score 0–100 of a parcel attribute, by curve or class map."""

    name: str
    attribute: str
    weight: float
    curve: list[tuple[float, float]] | None = None
    mapping: dict[str, float] | None = None


@dataclass
class RuleSet:
    """A validated rule set of one technology."""

    technology: str
    eligible_classes: list[str]
    exclusions: list[Exclusion]
    scores: list[Criterion]
    values: dict[str, float] = field(default_factory=dict)
    path: Path | None = None
    #: The values with their range, unit and source.
    parameters: dict[str, Parameter] = field(default_factory=dict, repr=False)
    limits: list[Limit] = field(default_factory=list)

    def fingerprint(self) -> dict[str, Any]:
        """The parsed rules as plain data (for cache keys: a change in any rule reruns scoring)."""
        d = asdict(self)
        d.pop("path")
        d.pop("parameters")
        return d

    @property
    def max_buffer_m(self) -> float:
        return max((e.buffer_m for e in self.exclusions), default=0.0)


def check_where(layer: str, where: str | None, context: str) -> None:
    """Check a rule's feature filter against the canonical schema of its layer.

    The query runs on an empty frame with the layer's columns, so a misspelt column or a
    syntax error is reported when the rules are loaded, not as a pandas traceback later.

    Parameters
    ----------
    layer : str
        Canonical layer or a derived one (:data:`DERIVED_LAYERS`).
    where : str, optional
        pandas query on the layer's columns; nothing to check when empty.
    context : str
        Location of the rule (file and key path), for messages.

    Raises
    ------
    ConfigError
        Unknown layer, unknown column (with the closest match) or a query pandas cannot parse.
    """
    import pandas as pd

    from landuse.layers import SCHEMA

    base, extra = DERIVED_LAYERS.get(layer, (layer, {}))
    if base not in SCHEMA:
        known = sorted([*SCHEMA, *DERIVED_LAYERS])
        raise ConfigError(f"{context}.layer: unknown layer {layer!r}.{schema.did_you_mean(layer, known)} "
                          f"Layers: {', '.join(known)}.")
    if not where:
        return
    columns = {**SCHEMA[base]["columns"], **extra}
    frame = pd.DataFrame({c: pd.Series([v], dtype=type(v) if not isinstance(v, str) else object)
                          for c, v in columns.items()}).iloc[:0]
    try:
        frame.query(where)
    except pd.errors.UndefinedVariableError as exc:
        name = str(exc).split("'")[1] if "'" in str(exc) else str(exc)
        raise ConfigError(f"{context}.where: {where!r} reads {name!r}, which layer {layer} lacks."
                          f"{schema.did_you_mean(name, list(columns))} Columns: {', '.join(columns)}.") from None
    except Exception as exc:  # noqa: BLE001 - any parse error of pandas' query language
        raise ConfigError(f"{context}.where: {where!r} is not a valid filter ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}). Write it as a pandas query, "
                          "e.g. \"`class` == 'residential'\".") from None


def parse_rule_set(raw: Any, path: str | os.PathLike | None = None, *, prefix: str = "") -> RuleSet:
    """Validate a rule-set mapping (as read from YAML) into a :class:`RuleSet`.

    Besides the schema (:class:`landuse.schema.RuleSetConfig`): the technology is registered,
    its values are the ones its module reads, layers and ``where`` filters fit the layer
    schema, and expression buffers lie in their declared range.

    Parameters
    ----------
    raw : Any
        The mapping as read from YAML.
    path : path-like, optional
        The file it came from, for messages and :attr:`RuleSet.path`.
    prefix : str
        Put in front of key paths in messages (e.g. ``"scenario wind_750m: "``).

    Returns
    -------
    RuleSet
        Buffers in metres; with a ``rotor_diameter_m`` value, buffers measured from the tower
        are reduced by the rotor radius.

    Raises
    ------
    ConfigError
        One line naming the file, the key path, the value and what is allowed.
    """
    from landuse import technologies

    src = str(path) if path else "rule set"
    cfg = schema.validate(schema.RuleSetConfig, raw, path=src, prefix=prefix)
    tech = technologies.get(cfg.technology)
    entries = cfg.values()
    groups = cfg.value_groups()
    for name in entries:
        if name not in tech.values:
            where = f"{groups[name]}.{name}" if groups.get(name) else name
            hint = schema.did_you_mean(name, tech.values)
            raise ConfigError(f"{src}: {prefix}{where}: unknown value for {tech.name}.{hint} "
                              f"{tech.name} reads: {', '.join(tech.values) or 'none'}.")
    params = {name: Parameter(float(e.value), float(e.lo), float(e.hi), e.unit, e.source, e.status)
              for name, e in entries.items()}
    values = {name: p.value for name, p in params.items()}
    rotor_r = values.get("rotor_diameter_m", 0.0) / 2
    exclusions = []
    for e in cfg.exclusions:
        context = f"{src}: {prefix}exclusions[{e.name}]"
        check_where(e.layer, e.where, context)
        buffer = evaluate(e.buffer, values, f"{context}.buffer")
        low = e.low if e.low is not None else buffer
        high = e.high if e.high is not None else buffer
        if buffer < 0:
            raise ConfigError(f"{context}.buffer: {e.buffer!r} = {buffer:g} m must be >= 0.")
        if not low <= buffer <= high and not isinstance(e.buffer, int | float):  # numbers: checked by the schema
            schema.out_of_range(f"{context}.buffer: {e.buffer!r} = {buffer:g} m lies outside its range "
                                f"{low:g}…{high:g} m")
        repowering = (evaluate(e.repowering_buffer, values, f"{context}.repowering_buffer")
                      if e.repowering_buffer is not None else None)
        if repowering is not None and not 0 <= repowering <= buffer:
            raise ConfigError(f"{context}.repowering_buffer: {e.repowering_buffer!r} = {repowering:g} m must lie "
                              f"between 0 and the buffer ({buffer:g} m).")
        if (e.measured_from or "tower") == "tower" and rotor_r:
            # the eligible area is where the rotor may be: a tower distance d leaves d − r for the rotor disc
            buffer = max(buffer - rotor_r, 0.0)
            repowering = max(repowering - rotor_r, 0.0) if repowering is not None else None
        exclusions.append(Exclusion(e.name, e.layer, e.where, buffer, e.source, e.status, repowering))
    scores = [Criterion(c.name, c.attribute, float(c.weight),
                        [(float(x), float(y)) for x, y in c.curve] if c.curve is not None else None,
                        {str(k): float(v) for k, v in c.map.items()} if c.map is not None else None)
              for c in cfg.scores]
    limits = [Limit(x.name, x.attribute, None if x.min is None else float(x.min),
                    None if x.max is None else float(x.max), x.unit, x.source, x.status) for x in cfg.limits]
    return RuleSet(tech.name, list(cfg.eligible_classes), exclusions, scores, values, Path(path) if path else None,
                   params, limits)


def scenarios(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Named rule variants (``scenarios.yaml`` beside the criteria, or ``path``), validated.

    Returns
    -------
    dict
        Scenario name → ``{"description": ..., <technology>: overrides}``.
    """
    from landuse import technologies

    path = Path(path) if path else CRITERIA_DIR / "scenarios.yaml"
    cfg = schema.validate(schema.ScenariosFile, schema.read_yaml(path, what="Scenario file") or {}, path=path)
    out = {}
    for name, scenario in cfg.root.items():
        schema.check_names(scenario.technologies(), technologies.names(), path=f"{path}: {name}",
                           what="technology")
        out[name] = {"description": scenario.description,
                     **{t: scenario.override(t) for t in scenario.technologies()}}
    return out


def apply_overrides(raw: dict, override: dict, where: str = "scenario") -> dict:
    """A rule-set mapping with a scenario's overrides applied (exclusions/scores by name).

    Parameters
    ----------
    raw : dict
        The rule-set mapping as read from YAML (not changed).
    override : dict
        One technology's overrides of a scenario; mappings are merged key by key.
    where : str
        Location of the overrides, for messages.

    Returns
    -------
    dict
        A deep copy of ``raw`` with the overrides applied.

    Raises
    ------
    ConfigError
        An override names an exclusion or score the rule set lacks.
    """
    out = copy.deepcopy(raw)
    for key, value in (override or {}).items():
        if key in ("exclusions", "limits", "scores"):
            by_name = {r["name"]: r for r in out.get(key, [])}
            for name, change in value.items():
                if name not in by_name:
                    raise ConfigError(f"{where}: no {key[:-1]} named {name!r}.{schema.did_you_mean(name, by_name)} "
                                      f"Known: {', '.join(by_name)}.")
                by_name[name].update(change)
        else:
            out[key] = schema.merge(out.get(key), value)
    return out


def rule_file(technology: str, criteria: str | os.PathLike | None = None) -> Path:
    """The rule file of a technology.

    Parameters
    ----------
    technology : str
        A registered technology.
    criteria : path-like, optional
        A folder of rule files or one rule file.

    Returns
    -------
    Path
        ``<criteria>/<technology>.yaml`` when ``criteria`` is a folder holding one, ``criteria``
        itself when it is a file, else the technology's default file.
    """
    from landuse import technologies

    default = Path(technologies.get(technology).rules_file)
    if not criteria:
        return default
    path = Path(criteria)
    if path.is_dir():
        return path / f"{technology}.yaml" if (path / f"{technology}.yaml").exists() else default
    return path


def load_rule_set(technology: str, criteria: str | os.PathLike | None = None,
                  scenario: str | None = None) -> RuleSet:
    """Load one technology's rule set from ``criteria`` (a folder or a YAML file) or the default,
    with the overrides of a named ``scenario`` (see ``scenarios.yaml``).

    Parameters
    ----------
    technology : str
        A registered technology.
    criteria : path-like, optional
        A folder of rule files or one rule file (see :func:`rule_file`).
    scenario : str, optional
        A scenario of :func:`scenario_file`; ``None`` or ``"default"`` applies none.

    Returns
    -------
    RuleSet

    Raises
    ------
    ConfigError
        The file is unreadable, not a mapping, invalid, or for another technology; an unknown
        scenario.
    """
    path = rule_file(technology, criteria)
    raw = schema.read_yaml(path, what="Criteria file")
    if not isinstance(raw, dict):
        raise ConfigError(f"Criteria file {path} must hold a mapping (technology, eligible_classes, exclusions, "
                          "scores).")
    prefix = ""
    if scenario and scenario != "default":
        file = scenario_file(criteria)
        known = scenarios(file)
        if scenario not in known:
            raise ConfigError(f"{file}: unknown scenario {scenario!r}.{schema.did_you_mean(scenario, known)} "
                              f"Known: {', '.join(known)}.")
        raw = apply_overrides(raw, known[scenario].get(technology, {}), f"{file}: {scenario}.{technology}")
        prefix = f"scenario {scenario}: "
    rs = parse_rule_set(raw, path, prefix=prefix)
    if rs.technology != technology:
        raise ConfigError(f"Criteria file {path} is for {rs.technology!r}, expected {technology!r}.")
    return rs


def scenario_file(criteria: str | os.PathLike | None = None) -> Path:
    """``scenarios.yaml`` of a criteria folder (or beside a criteria file), else the default."""
    if criteria:
        c = Path(criteria)
        candidate = (c if c.is_dir() else c.parent) / "scenarios.yaml"
        if candidate.exists():
            return candidate
    return CRITERIA_DIR / "scenarios.yaml"


def load_rule_sets(criteria: str | os.PathLike | None = None, scenario: str | None = None, *,
                   technologies: list[str] | None = None) -> dict[str, RuleSet]:
    """The rule sets of every registered technology (or of ``technologies``).

    Parameters
    ----------
    criteria : path-like, optional
        A folder of rule files (``<technology>.yaml``; missing ones fall back to the default)
        or one rule file (it replaces its technology's default).
    scenario : str, optional
        Scenario applied to every rule set (see :func:`load_rule_set`).
    technologies : list of str, optional
        Technologies to load (default: all registered).

    Returns
    -------
    dict of str to RuleSet
        Technology name → rule set.

    Raises
    ------
    ConfigError
        ``criteria`` does not exist, a single rule file names no loaded technology, or a rule
        set is invalid.
    """
    from landuse import technologies as registry

    names = technologies or registry.names()
    if criteria and not Path(criteria).exists():
        raise ConfigError(f"Criteria {criteria} not found (give a folder of rule files or one rule file).")
    if criteria and Path(criteria).is_file():
        raw = schema.read_yaml(criteria, what="Criteria file")
        tech = raw.get("technology", "") if isinstance(raw, dict) else ""
        if tech not in names:
            raise ConfigError(f"Criteria file {criteria}: 'technology' must be one of {', '.join(names)}.")
        return {t: load_rule_set(t, criteria if t == tech else None, scenario) for t in names}
    return {t: load_rule_set(t, criteria, scenario) for t in names}


def max_buffer_m(rule_sets: dict[str, RuleSet]) -> float:
    """The widest exclusion buffer (m) of the rule sets: the margin the layers need."""
    return max((rs.max_buffer_m for rs in rule_sets.values()), default=0.0)
