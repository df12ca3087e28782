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

import yaml

from landuse.errors import ConfigError
from landuse.parameters import validate_entry

CRITERIA_DIR = Path(__file__).resolve().parent
_SET_KEYS = {"technology", "rule_set", "eligible_classes", "exclusions", "scores"}
_EXCL_KEYS = {"name", "layer", "where", "buffer", "measured_from", "unit", "low", "high", "status", "source"}
_SCORE_KEYS = {"name", "attribute", "curve", "map", "weight", "status", "source"}
_LAYERS = {"landcover", "buildings", "building_groups", "roads", "railways", "waterways", "water_bodies",
           "protected_areas", "aerodromes", "power_lines", "existing_plants"}
_STATUSES = {"SRC", "EST", "UNV"}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def evaluate(expr: str | float, names: dict[str, float], where: str = "") -> float:
    """Evaluate a buffer: a number or an arithmetic expression of named values (+ - * /)."""
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

    def fingerprint(self) -> dict[str, Any]:
        """The parsed rules as plain data (for cache keys: a change in any rule reruns scoring)."""
        d = asdict(self)
        d.pop("path")
        return d

    @property
    def max_buffer_m(self) -> float:
        return max((e.buffer_m for e in self.exclusions), default=0.0)


def _value(entry: Any, where: str) -> float:
    v = float(validate_entry(entry, where))
    if v < 0:
        raise ConfigError(f"{where}: value {v} must not be negative.")
    return v


def _check_rule(rule: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> str:
    """Check a rule's keys; return the rule's description for later messages."""
    where = f"{where} ({rule.get('name', '?') if isinstance(rule, dict) else rule})"
    if not isinstance(rule, dict):
        raise ConfigError(f"{where}: must be a mapping.")
    bad = set(rule) - allowed
    if bad:
        raise ConfigError(f"{where}: unknown keys {sorted(bad)}; allowed: {sorted(allowed)}.")
    for key in required:
        if key not in rule:
            raise ConfigError(f"{where}: '{key}' is missing.")
    return where


def parse_rule_set(raw: dict, path: Path | None = None) -> RuleSet:
    """Validate a rule-set mapping (as read from YAML) into a :class:`RuleSet`."""
    src = str(path) if path else "rule set"
    from landuse import technologies

    tech = raw.get("technology")
    declared = technologies.get(str(tech)).values
    values: dict[str, float] = {}
    for key in set(raw) - _SET_KEYS:
        entries = raw[key] if isinstance(raw[key], dict) and "value" not in raw[key] else {key: raw[key]}
        for name, entry in entries.items():
            if name not in declared:
                raise ConfigError(f"{src}: unknown value {name!r}; {tech} reads {', '.join(declared) or 'none'}.")
            values[name] = _value(entry, f"{src}: {key}" + (f".{name}" if name != key else ""))
    rotor_r = values.get("rotor_diameter_m", 0.0) / 2
    exclusions, names = [], set()
    for i, e in enumerate(raw.get("exclusions") or []):
        where = _check_rule(e, f"{src}: exclusion #{i + 1}", _EXCL_KEYS,
                            ("name", "layer", "buffer", "unit", "source", "status"))
        if e["unit"] != "m":
            raise ConfigError(f"{where}: buffer unit must be 'm', got {e['unit']!r}.")
        if e["layer"] not in _LAYERS:
            raise ConfigError(f"{where}: layer {e['layer']!r} unknown; one of {sorted(_LAYERS)}.")
        if e["status"] not in _STATUSES:
            raise ConfigError(f"{where}: status must be one of {sorted(_STATUSES)}.")
        if e["name"] in names:
            raise ConfigError(f"{where}: duplicate rule name {e['name']!r}.")
        names.add(e["name"])
        buffer = evaluate(e["buffer"], values, where)
        if buffer < 0:
            raise ConfigError(f"{where}: buffer {buffer} m is negative.")
        if e.get("measured_from", "tower") == "tower" and rotor_r:
            # the eligible area is where the rotor may be: a tower distance d leaves d − r for the rotor disc
            buffer = max(buffer - rotor_r, 0.0)
        exclusions.append(Exclusion(e["name"], e["layer"], e.get("where"), buffer, e["source"], e["status"]))
    scores = []
    for i, s in enumerate(raw.get("scores") or []):
        where = _check_rule(s, f"{src}: score #{i + 1}", _SCORE_KEYS,
                            ("name", "attribute", "weight", "source", "status"))
        weight = float(s["weight"])
        if weight < 0:
            raise ConfigError(f"{where}: weight {weight} must not be negative.")
        if ("curve" in s) == ("map" in s):
            raise ConfigError(f"{where}: give exactly one of 'curve' (points [x, score]) or 'map' (class: score).")
        curve = mapping = None
        if "curve" in s:
            curve = [(float(x), float(y)) for x, y in s["curve"]]
            if any(b[0] < a[0] for a, b in zip(curve, curve[1:], strict=False)):
                raise ConfigError(f"{where}: curve x values must increase.")
            if any(not 0 <= y <= 100 for _, y in curve):
                raise ConfigError(f"{where}: curve scores must lie in 0…100.")
        else:
            mapping = {str(k): float(v) for k, v in s["map"].items()}
        scores.append(Criterion(s["name"], s["attribute"], weight, curve, mapping))
    if scores and sum(c.weight for c in scores) <= 0:
        raise ConfigError(f"{src}: the weights of the scores add up to 0.")
    return RuleSet(tech, list(raw.get("eligible_classes") or []), exclusions, scores, values, path)


def scenarios(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Named rule variants (``scenarios.yaml`` beside the criteria, or ``path``)."""
    path = Path(path) if path else CRITERIA_DIR / "scenarios.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"Scenario file {path} must hold a mapping of scenario names.")
    return raw


def apply_overrides(raw: dict, override: dict, where: str = "scenario") -> dict:
    """A rule-set mapping with a scenario's overrides applied (exclusions/scores by name)."""
    out = copy.deepcopy(raw)
    for key, value in (override or {}).items():
        if key in ("exclusions", "scores"):
            by_name = {r["name"]: r for r in out.get(key, [])}
            for name, change in value.items():
                if name not in by_name:
                    raise ConfigError(f"{where}: no {key[:-1]} named {name!r}; known: {sorted(by_name)}.")
                by_name[name].update(change)
        else:
            out[key] = value
    return out


def rule_file(technology: str, criteria: str | os.PathLike | None = None) -> Path:
    """The rule file of a technology: ``<criteria>/<technology>.yaml`` when ``criteria`` is a
    folder holding one, ``criteria`` itself when it is that technology's file, else the
    technology's default file."""
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
    with the overrides of a named ``scenario`` (see ``scenarios.yaml``)."""
    path = rule_file(technology, criteria)
    if not path.exists():
        raise ConfigError(f"Criteria file {path} not found.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"Criteria file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Criteria file {path} must hold a mapping.")
    if scenario and scenario != "default":
        known = scenarios(scenario_file(criteria))
        if scenario not in known:
            raise ConfigError(f"Unknown scenario {scenario!r}; known: {', '.join(known)}.")
        raw = apply_overrides(raw, known[scenario].get(technology, {}), f"scenario {scenario!r}")
    rs = parse_rule_set(raw, path)
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

    ``criteria`` is a folder of rule files (``<technology>.yaml``; missing ones fall back to the
    default) or one rule file (it replaces its technology's default).
    """
    from landuse import technologies as registry

    names = technologies or registry.names()
    if criteria and not Path(criteria).exists():
        raise ConfigError(f"Criteria {criteria} not found (give a folder of rule files or one rule file).")
    if criteria and Path(criteria).is_file():
        raw = yaml.safe_load(Path(criteria).read_text(encoding="utf-8"))
        tech = raw.get("technology", "") if isinstance(raw, dict) else ""
        if tech not in names:
            raise ConfigError(f"Criteria file {criteria}: 'technology' must be one of {', '.join(names)}.")
        return {t: load_rule_set(t, criteria if t == tech else None, scenario) for t in names}
    return {t: load_rule_set(t, criteria, scenario) for t in names}


def max_buffer_m(rule_sets: dict[str, RuleSet]) -> float:
    """The widest exclusion buffer (m) of the rule sets: the margin the layers need."""
    return max((rs.max_buffer_m for rs in rule_sets.values()), default=0.0)
