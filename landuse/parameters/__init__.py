"""Parameter files (YAML): every value with unit, range, source and status."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from landuse.errors import ConfigError

PARAMETER_DIR = Path(__file__).resolve().parent
_ENTRY_KEYS = {"value", "unit", "low", "high", "status", "source", "note"}
STATUSES = {"SRC", "EST", "UNV"}


def validate_entry(entry: Any, where: str) -> float:
    """Check one parameter entry (``value``, ``unit``, ``source``, ``status``, optional
    ``low``/``high`` around the value) and return its value; errors name ``where``."""
    if not isinstance(entry, dict) or "value" not in entry:
        raise ConfigError(f"{where} needs a mapping with 'value', 'unit', 'source', 'status'.")
    bad = set(entry) - _ENTRY_KEYS
    if bad:
        raise ConfigError(f"{where}: unknown keys {sorted(bad)}; allowed: {sorted(_ENTRY_KEYS)}.")
    for key in ("unit", "source", "status"):
        if key not in entry:
            raise ConfigError(f"{where}: '{key}' is missing.")
    if entry["status"] not in STATUSES:
        raise ConfigError(f"{where}: status must be one of {sorted(STATUSES)}, got {entry['status']!r}.")
    low, high = entry.get("low", entry["value"]), entry.get("high", entry["value"])
    if not low <= entry["value"] <= high:
        raise ConfigError(f"{where}: value {entry['value']} lies outside its range {low}…{high}.")
    return entry["value"]


def load_values(path: str | os.PathLike, overrides: dict[str, float] | None = None) -> dict[str, Any]:
    """Read a flat parameter file and return ``{name: value}``, validating every entry.

    Each entry needs ``value``, ``unit``, ``source`` and ``status``; ``low <= value <= high``
    where a range is given. ``overrides`` replace values by name (unknown names are an error).
    """
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    values = {name: validate_entry(entry, f"{path}: parameter '{name}'") for name, entry in raw.items()}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise ConfigError(f"{path}: unknown parameter '{name}'; known: {sorted(values)}.")
        values[name] = value
    return values


@dataclass(frozen=True)
class Parameter:
    """One parameter: central value, range, unit, source and status."""

    value: float
    low: float
    high: float
    unit: str
    source: str
    status: str


def load_parameters(path: str | os.PathLike) -> dict[str, Parameter]:
    """Read a parameter file with its ranges (validated like :func:`load_values`)."""
    path = Path(path)
    load_values(path)  # validation
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return {
        name: Parameter(float(e["value"]), float(e.get("low", e["value"])), float(e.get("high", e["value"])),
                        str(e["unit"]), str(e["source"]), str(e["status"]))
        for name, e in raw.items()
    }


def parameter_table(params: dict[str, Parameter]):
    """Parameters as a table (for reports and exports)."""
    import pandas as pd

    return pd.DataFrame([{"parameter": k, **vars(p)} for k, p in params.items()]).set_index("parameter")
