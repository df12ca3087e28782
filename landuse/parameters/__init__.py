"""Parameter files (YAML): every value with unit, range, source and status, validated by
:class:`landuse.schema.ParameterFile`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from landuse import schema
from landuse.errors import ConfigError

PARAMETER_DIR = Path(__file__).resolve().parent
STATUSES = set(schema.STATUSES)


@dataclass(frozen=True)
class Parameter:
    """One parameter: central value, range, unit, source and status."""

    value: float
    low: float
    high: float
    unit: str
    source: str
    status: str


def load_parameters(path: str | os.PathLike, *, defaults: str | os.PathLike | None = None) -> dict[str, Parameter]:
    """Read a parameter file with its ranges.

    Parameters
    ----------
    path : path-like
        A flat parameter file (``name: {value, unit, low, high, status, source}``).
    defaults : path-like, optional
        The file ``path`` is a copy of: names not in it are an error ("did you mean"), names
        it leaves out keep the default's entry.

    Raises
    ------
    ConfigError
        One line naming the file, the parameter and what is wrong.
    """
    path = Path(path)
    raw = schema.read_yaml(path, what="Parameter file")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"Parameter file {path} must hold a mapping: name: {{value, unit, low, high, status, "
                          "source}.")
    entries = schema.validate(schema.ParameterFile, raw or {}, path=path).root
    out = {name: Parameter(float(e.value), float(e.lo), float(e.hi), e.unit, e.source, e.status)
           for name, e in entries.items()}
    if defaults is not None and Path(defaults).resolve() != path.resolve():
        base = load_parameters(defaults)
        schema.check_names(list(out), list(base), path=path)
        out = {**base, **out}
    return out


def load_values(path: str | os.PathLike, overrides: dict[str, float] | None = None) -> dict[str, float]:
    """``{name: value}`` of a parameter file; ``overrides`` replace values by name (unknown names
    are an error)."""
    values = {name: p.value for name, p in load_parameters(path).items()}
    if overrides:
        schema.check_names(list(overrides), list(values), path=path)
        values.update(overrides)
    return values


def parameter_table(params: dict[str, Parameter]):
    """Parameters as a table (for reports and exports)."""
    import pandas as pd

    return pd.DataFrame([{"parameter": k, **vars(p)} for k, p in params.items()]).set_index("parameter")
