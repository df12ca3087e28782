"""Schemas of the YAML configuration files (pydantic v2) with one-line error messages.

Every configuration file of the project has a model here: region files (:class:`RegionConfig`),
rule sets (:class:`RuleSetConfig`), scenarios (:class:`ScenariosFile`), flat parameter files
(:class:`ParameterFile`) and the land-statistics rules (:class:`LandStatisticsConfig`).
:func:`load` reads a file and validates it; any problem becomes a
:class:`~landuse.errors.ConfigError` with ONE line naming the file, the key path, the value
and what is allowed::

    my-region.yaml: margin_m: '3 km' is not a number (give metres, e.g. 3000)
    wind.yaml: scores[land_cover]: unknown key 'weigth'; did you mean 'weight'? allowed: name, ...

Checks that need other parts of the package (layer names, ``where`` columns, the names in
buffer expressions) are left to the callers; this module imports nothing of the package but
:mod:`landuse.errors`.
"""

import ast
import datetime as dt
import difflib
import logging
import os
import re
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from landuse.errors import ConfigError

__all__ = [
    "STATUSES", "LAND_COVER_CLASSES", "OSM_TYPES",
    "AllocationConfig", "Constraints", "TechnologyLimits", "PriorityStep", "Compatible",
    "read_yaml", "validate", "load", "did_you_mean", "check_names", "merge",
    "ParameterEntry", "ParameterFile",
    "RegionConfig", "Municipality", "BalanceConfig", "Baseline", "GroupBaseline", "DatedLoad", "Sources",
    "BoundarySource", "OsmSource", "RasterSource", "FileSource", "ParcelSource",
    "RuleSetConfig", "ExclusionRule", "ScoreRule",
    "ScenariosFile", "Scenario", "TechnologyOverride",
    "LandStatisticsConfig", "Widths", "WidthEntry",
]

#: Status of a value: found in a source, estimated, or reported but not verified.
STATUSES = ("SRC", "EST", "UNV")
#: The classes of the canonical land-cover layer.
LAND_COVER_CLASSES = ("arable", "grassland", "forest", "water", "residential", "industrial", "conversion", "transport",
                      "other")
#: Kinds of OpenStreetMap source (``sources.osm.type``).
OSM_TYPES = ("openmaptiles", "mbtiles", "osm_xml", "osm_file", "osmnx")

Status = Literal["SRC", "EST", "UNV"]
LandCover = Literal["arable", "grassland", "forest", "water", "residential", "industrial", "conversion", "transport",
                    "other"]

_MAX_VALUE_CHARS = 60
_ERROR = "landuse"  # type of the errors this module raises inside validators (message already final)


# --------------------------------------------------------------------------------------------
# small helpers


@dataclass(frozen=True)
class Hint:
    """What to write instead, appended to a message about the field: ``(give metres, e.g. 3000)``."""

    text: str


def _show(value: Any) -> str:
    """A value as the user wrote it (YAML words for null/true/false), cut to 60 characters."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _num(x: Any) -> str:
    """A number without a needless ``.0``."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str, loc: tuple = (), more: int = 0) -> PydanticCustomError:
    """An error for a validator to raise: ``message`` is final, ``loc`` extends the error's location."""
    return PydanticCustomError(_ERROR, _one_line(message), {"_loc": tuple(loc), "_more": more})


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\W_]+", text.lower()) if t]


def _closest(word: Any, choices) -> str | None:
    """The choice closest to ``word``: difflib on the whole word, else word by word (``pv_yeild``
    finds ``pv_specific_yield_kwh_per_kwp_a``)."""
    choices = [str(c) for c in choices]
    word = str(word)
    if not choices or not word:
        return None
    lower = {c.lower(): c for c in reversed(choices)}
    hit = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    if hit:
        return lower[hit[0]]
    tokens = _tokens(word)
    if len(word) < 4 or not tokens:
        return None
    best, best_score = None, 0.0
    for choice in choices:
        other = _tokens(choice)
        if not other:
            continue
        score = sum(max(difflib.SequenceMatcher(None, t, u).ratio() for u in other) for t in tokens) / len(tokens)
        if score > best_score:
            best, best_score = choice, score
    return best if best_score >= 0.75 else None


def merge(base: Any, change: Any) -> Any:
    """``change`` over ``base``, mappings merged key by key: an override (a scenario, a region's
    allocation settings, a municipality's own values) may give only the keys it changes."""
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in change.items()}}
    return change


def did_you_mean(word: str, choices) -> str:
    """A hint naming the choice closest to ``word``.

    Parameters
    ----------
    word : str
    choices : iterable
        Known names (compared as strings).

    Returns
    -------
    str
        ``" Did you mean 'x'?"``, or ``""`` when nothing is close.
    """
    close = _closest(word, choices)
    return f" Did you mean '{close}'?" if close else ""


def _suggest(word: Any, choices) -> str:
    """``"; did you mean 'x'?"`` or ``""`` (inside a message)."""
    close = _closest(word, choices)
    return f"; did you mean '{close}'?" if close and close != str(word) else ""


def _cut_list(items: list[str], near: str | None = None, n: int = 12) -> str:
    """All items when there are few; else the ``n - 4`` closest to ``near`` and the count."""
    if len(items) <= n:
        return ", ".join(items)
    if near is not None:
        ranked = sorted(items, key=lambda c: -difflib.SequenceMatcher(None, str(near).lower(), c.lower()).ratio())
    else:
        ranked = items
    return ", ".join(ranked[: n - 4]) + f", ... ({len(items)} in all)"


def check_names(names, known, *, path, what: str = "parameter") -> None:
    """Raise a :class:`ConfigError` for the first of ``names`` that is not in ``known``.

    Parameters
    ----------
    names : iterable
        Names given by the user.
    known : iterable
        Allowed names.
    path : Any
        Where the names come from, at the start of the message.
    what : str
        What a name is, for the message ("parameter", "technology").

    Raises
    ------
    ConfigError
        ``{path}: unknown parameter 'pv_yeild'; did you mean 'pv_specific_yield_kwh_per_kwp_a'? known: ...``
    """
    known = sorted(str(k) for k in known)
    for name in names:
        if str(name) not in known:
            close = _closest(name, known)
            hint = f"; did you mean '{close}'?" if close else ";"
            raise ConfigError(f"{path}: unknown {what} '{name}'{hint} known: {_cut_list(known, str(name))}.")


# --------------------------------------------------------------------------------------------
# reading YAML


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key: the constructor reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first given on line {first + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | os.PathLike, *, what: str) -> Any:
    """Read a YAML file; every problem is a one-line :class:`ConfigError`.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages: "Region file", "Criteria file", "Parameter file".

    Returns
    -------
    Any
        The document; ``None`` for an empty file (the caller decides what that means).

    Raises
    ------
    ConfigError
        ``{what} {path} not found.``, a directory or unreadable file, text that is not UTF-8,
        or ``{path}:{line}:{column}: {problem}`` for a YAML syntax error (1-based).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found.") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a YAML file.") from None
    except PermissionError:
        raise ConfigError(f"{what} {path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {_one_line(exc.strerror or exc)}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: {what} is not UTF-8 text; save it as UTF-8.") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _one_line(exc.problem or exc.context or "not valid YAML")
        if mark is None:
            raise ConfigError(f"{path}: {problem}") from None
        raise ConfigError(f"{path}:{mark.line + 1}:{mark.column + 1}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_one_line(exc)}") from None


# --------------------------------------------------------------------------------------------
# turning pydantic errors into one line


def _unwrap(tp: Any) -> tuple[Any, str | None]:
    """Strip ``Annotated`` and ``X | None``; return the bare type and the innermost hint."""
    hint = None
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            hint = next((m.text for m in args[1:] if isinstance(m, Hint)), hint)
            tp = args[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, hint
            tp = args[0]
        else:
            return tp, hint


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _extra_type(model: type[BaseModel]) -> Any:
    """The value type of a model's extra keys (its ``__pydantic_extra__`` annotation)."""
    try:
        extra = get_type_hints(model, include_extras=True).get("__pydantic_extra__")
    except Exception:  # noqa: BLE001 - unresolvable hints: no type known
        return None
    args = get_args(extra)
    return args[1] if len(args) == 2 else None


def _step(tp: Any, part: Any) -> tuple[Any, str | None]:
    """One step along an error location: the child's type and the hint of its field."""
    if _is_model(tp) and issubclass(tp, RootModel):
        tp, _ = _unwrap(tp.model_fields["root"].annotation)
    if _is_model(tp):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                hint = next((m.text for m in info.metadata if isinstance(m, Hint)), None)
                return info.annotation, hint
        return _extra_type(tp), None
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, set, frozenset) and args:
        return args[0], None
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], None
        return (args[part], None) if isinstance(part, int) and 0 <= part < len(args) else (None, None)
    if origin is dict and len(args) == 2:
        return args[1], None
    return None, None


def _resolve(tp: Any, loc: tuple) -> tuple[Any, str | None]:
    """The type reached from ``tp`` along ``loc`` (None when unknown) and the hint for it."""
    tp, hint = _unwrap(tp)
    for part in loc:
        if tp is None:
            return None, None
        tp, field_hint = _step(tp, part)
        tp, type_hint = _unwrap(tp)
        hint = type_hint or field_hint
    if _is_model(tp) and issubclass(tp, RootModel):
        tp, _ = _unwrap(tp.model_fields["root"].annotation)
    return tp, hint


def _keys(model: Any) -> list[str]:
    """The keys a model allows (aliases where given), in declaration order."""
    if not _is_model(model):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _allows_extra(model: Any) -> bool:
    return _is_model(model) and model.model_config.get("extra") == "allow"


def _optional(root: Any, loc: tuple) -> bool:
    """Whether the key at ``loc`` is a model field with a default (so ``null`` there means "none")."""
    if not loc:
        return False
    parent, _ = _resolve(root, loc[:-1])
    info = parent.model_fields.get(loc[-1]) if _is_model(parent) and isinstance(loc[-1], str) else None
    return info is not None and not info.is_required()


def _literal_choices(err: dict) -> list[str]:
    expected = (err.get("ctx") or {}).get("expected", "")
    return re.findall(r"'((?:[^'\\]|\\.)*)'", str(expected))


def _describe(err: dict, root: Any) -> tuple[tuple, str, int]:
    """(location of the key path, problem, further problems hidden in it) of one pydantic error."""
    kind, loc, ctx = err["type"], tuple(err["loc"]), err.get("ctx") or {}
    value = err.get("input")
    shown = _show(value)
    if kind == _ERROR:
        return loc + tuple(ctx.get("_loc", ())), err["msg"], int(ctx.get("_more", 0))
    if kind == "missing":
        return loc[:-1], f"'{loc[-1]}' is missing (required)", 0
    if kind == "extra_forbidden":
        model, _ = _resolve(root, loc[:-1])
        allowed = _keys(model)
        key = loc[-1]
        text = f"unknown key '{key}'"
        close = _closest(key, allowed)
        text += f"; did you mean '{close}'? allowed: " if close else "; allowed: "
        return loc[:-1], text + ", ".join(allowed), 0
    if loc and loc[-1] == "[key]":
        return loc[:-2], f"key {_show(loc[-2])} must be text (put it in quotes)", 0

    target, hint = _resolve(root, loc)
    if kind in ("float_type", "float_parsing"):
        problem = f"{shown} is not a number"
    elif kind == "finite_number":
        problem = f"{shown} is not a finite number"
    elif kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        problem = f"{shown} is not a whole number"
    elif kind in ("bool_type", "bool_parsing"):
        problem = f"{shown} must be true or false"
    elif kind in ("string_type", "string_unicode"):
        problem = f"{shown} must be text"
    elif kind == "literal_error":
        choices = _literal_choices(err)
        if len(choices) == 1:
            problem = f"{shown} must be '{choices[0]}'"
        else:
            problem = f"{shown} must be one of {', '.join(sorted(choices))}"
        if isinstance(value, str) and len(choices) > 1:
            problem += _suggest(value, choices)
    elif kind == "greater_than":
        problem = f"{shown} must be > {_num(ctx.get('gt'))}"
    elif kind == "greater_than_equal":
        problem = f"{shown} must be >= {_num(ctx.get('ge'))}"
    elif kind == "less_than":
        problem = f"{shown} must be < {_num(ctx.get('lt'))}"
    elif kind == "less_than_equal":
        problem = f"{shown} must be <= {_num(ctx.get('le'))}"
    elif kind == "too_short":
        n = ctx.get("min_length", 1)
        problem = f"{shown} must not be empty" if n == 1 else f"{shown} must have at least {n} items"
    elif kind == "too_long":
        problem = f"{shown} must have at most {ctx.get('max_length')} items"
    elif kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        problem = f"{shown} must be a list"
        if value is None and hint is None and _optional(root, loc):
            hint = "write [] for none"
    elif kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        keys = [] if _allows_extra(target) else _keys(target)
        if not loc and value is None:
            problem = "the file is empty; it must hold a mapping (key: value)"
        elif not loc:
            what = {"list": "a list", "str": "text"}.get(type(value).__name__, type(value).__name__)
            problem = f"the top level must be a mapping (key: value), not {what}"
        elif keys:
            problem = f"{shown} must be a mapping with the keys {', '.join(keys)}"
        else:
            problem = f"{shown} must be a mapping (key: value)"
            if value is None and hint is None and _optional(root, loc):
                hint = "write {} for none"
    else:
        msg = _one_line(err.get("msg", "invalid"))
        problem = f"{shown}: {msg[:1].lower()}{msg[1:]}"
    if hint:
        problem += f" ({hint})"
    return loc, problem, 0


def _keypath(loc: tuple, data: Any) -> str:
    """``loc`` as a key path: ``exclusions[settlement].buffer``, ``balance.shares[1]``.

    A list item that is a mapping with a ``name`` is shown by its name, others by index (from 0).
    """
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list | tuple):
            item = node[part] if -len(node) <= part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{name}]" if isinstance(name, str) and name.strip() else f"[{part}]"
            node = item
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _message(exc: ValidationError, root: Any, data: Any, *, path: Any, prefix: str = "") -> str:
    errors = exc.errors(include_url=False)
    loc, problem, more = _describe(errors[0], root)
    total_more = more + sum(1 + int((e.get("ctx") or {}).get("_more", 0)) if e["type"] == _ERROR else 1
                            for e in errors[1:])
    keypath = prefix + _keypath(loc, data)
    if not _keypath(loc, data):
        keypath = prefix.rstrip(". ")
    text = f"{path}: {keypath}: {problem}" if keypath else f"{path}: {problem}"
    if total_more:
        text += f" (and {total_more} more problem{'s' if total_more > 1 else ''})"
    return _one_line(text)


def validate(model: type[BaseModel] | TypeAdapter, data: Any, *, path: Any, prefix: str = "") -> Any:
    """Validate ``data`` (as read from ``path``) with a model or type adapter.

    Parameters
    ----------
    model : pydantic model class or TypeAdapter
    data : Any
        As read from YAML.
    path : Any
        The file ``data`` came from, at the start of the message.
    prefix : str
        Put in front of the key path (e.g. ``"scenario wind_750m."``).

    Returns
    -------
    Any
        The validated model instance (or the adapter's value).

    Raises
    ------
    ConfigError
        One line for the first problem, ``{path}: {keypath}: {problem}``, with the value and
        what is allowed, and ``(and N more problems)`` when there are more.
    """
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        root = getattr(model, "_type", None) if isinstance(model, TypeAdapter) else model
        message = _message(exc, root, data, path=path, prefix=prefix)
        if _ALLOWED.get() is not None and all(_OUTSIDE in str(e.get("msg", "")) for e in exc.errors()):
            out_of_range(message.replace(f" ({OUT_OF_RANGE_HINT})", ""))
            token = _SKIP_RANGES.set(True)
            try:
                return validate(model, data, path=path, prefix=prefix)
            finally:
                _SKIP_RANGES.reset(token)
        raise ConfigError(message) from None


def load(model: type[BaseModel] | TypeAdapter, path: str | os.PathLike, *, what: str) -> Any:
    """Read a YAML file and validate it (an empty file is validated as ``{}``).

    Parameters
    ----------
    model : pydantic model class or TypeAdapter
    path : path-like
    what : str
        What the file is, for messages (see :func:`read_yaml`).

    Returns
    -------
    Any
        As :func:`validate` returns.

    Raises
    ------
    ConfigError
        The file cannot be read or parsed (:func:`read_yaml`), or is invalid (:func:`validate`).
    """
    data = read_yaml(path, what=what)
    return validate(model, {} if data is None else data, path=path)


# --------------------------------------------------------------------------------------------
# field types

#: A number as YAML gives it (int or float; not text, not true/false, not .nan/.inf).
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
NonNegative = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
Metres = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False), Hint("give metres, e.g. 3000")]
Share = Annotated[StrictFloat, Field(gt=0, le=1), Hint("give a share in (0, 1], e.g. 0.25")]
ScoreValue = Annotated[StrictFloat, Field(ge=0, le=100), Hint("a score lies in 0…100")]


def _positive(v: int) -> int:
    if v <= 0:
        raise _fail(f"{_show(v)} must be a positive integer")
    return v


PositiveInt = Annotated[StrictInt, AfterValidator(_positive), Hint("give a positive integer, e.g. 16715")]


def _ags(v: Any) -> str:
    text = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if isinstance(text, str) and len(text) == 8 and text.isdigit():
        return text
    extra = ""
    if isinstance(v, int) and not isinstance(v, bool) and len(str(v)) == 7:
        extra = "; quote a key with a leading zero, e.g. \"01001000\""
    raise _fail(f"{_show(v)} must be 8 digits, the official municipality key (AGS), "
                f"e.g. \"14713000\" for Leipzig{extra}")


AGS = Annotated[str, PlainValidator(_ags)]


def _date_text(v: Any) -> Any:
    """YAML reads ``date: 2016-01-01`` as a date: keep it as ISO text."""
    return v.isoformat() if isinstance(v, dt.date) else v


DateText = Annotated[str, BeforeValidator(_date_text), Hint("e.g. \"2021-08\"")]


def _scalar_text(v: Any) -> Any:
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def _text_keys(v: Any) -> Any:
    """Class codes written as numbers (``1: arable``) are text keys."""
    return {_scalar_text(k): val for k, val in v.items()} if isinstance(v, dict) else v


def _text_keys_values(v: Any) -> Any:
    return {_scalar_text(k): _scalar_text(val) for k, val in v.items()} if isinstance(v, dict) else v


ScalarText = Annotated[str, BeforeValidator(_scalar_text)]
ClassMap = Annotated[dict[str, str], BeforeValidator(_text_keys_values)]
ScoreMap = Annotated[dict[str, ScoreValue], BeforeValidator(_text_keys)]

_BUFFER_HINT = "a number of metres >= 0 or an arithmetic expression of named values, e.g. \"2 * total_height_m\""
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.Name, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div)


def _is_expression(text: str) -> bool:
    """Numbers and names joined by + - * / (and parentheses), as the buffer evaluator takes them."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                return False
        elif not isinstance(node, _EXPR_NODES):
            return False
    return True


def _buffer(v: Any) -> float | str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v != v or v in (float("inf"), float("-inf")):
            raise _fail(f"{_show(v)} is not a finite number ({_BUFFER_HINT})")
        if v < 0:
            raise _fail(f"{_show(v)} must be >= 0 ({_BUFFER_HINT})")
        return float(v)
    if isinstance(v, str) and v.strip() and _is_expression(v):
        return v
    raise _fail(f"{_show(v)} is not a number or an arithmetic expression ({_BUFFER_HINT})")


Buffer = Annotated[float | str, PlainValidator(_buffer)]


def _pair(v: Any) -> Any:
    if isinstance(v, list | tuple) and len(v) == 2:
        return tuple(v)
    raise _fail(f"{_show(v)} must be a pair [x, score], e.g. [0, 100]")


CurvePoint = Annotated[tuple[Number, ScoreValue], BeforeValidator(_pair)]


#: Said after an out-of-range value (an error unless the user allows it).
OUT_OF_RANGE_HINT = "change the value, or the range with its source, or run with --allow-out-of-range"
_OUTSIDE = "lies outside its range"
#: The out-of-range values allowed in this run (a list while :func:`out_of_range_allowed` is active).
_ALLOWED: ContextVar[list[str] | None] = ContextVar("landuse_out_of_range", default=None)
_SKIP_RANGES: ContextVar[bool] = ContextVar("landuse_skip_ranges", default=False)
log = logging.getLogger(__name__)


@contextmanager
def out_of_range_allowed() -> Iterator[list[str]]:
    """Within this block a value outside its declared range is recorded, not an error.

    Yields
    ------
    list of str
        One line per value allowed (file, key path, value, range), for the run's metadata; a
        block inside another shares its list.
    """
    records = _ALLOWED.get()
    if records is not None:
        yield records
        return
    token = _ALLOWED.set([])
    try:
        yield _ALLOWED.get()
    finally:
        _ALLOWED.reset(token)


def out_of_range(message: str) -> None:
    """An out-of-range value found outside the models (e.g. an evaluated buffer expression):
    recorded while allowed, else a :class:`ConfigError` with :data:`OUT_OF_RANGE_HINT`."""
    records = _ALLOWED.get()
    if records is None:
        raise ConfigError(f"{message} ({OUT_OF_RANGE_HINT}).")
    if message not in records:
        records.append(message)
        log.warning("Allowed out of range: %s", message)


def _range_error(value: float, low: float | None, high: float | None, what: str = "value"):
    """The error for ``value`` outside ``low…high`` (or a range upside down), else None; None as
    well for a value out of range while the user allows it (:func:`validate` records it)."""
    lo = value if low is None else low
    hi = value if high is None else high
    if low is not None and high is not None and low > high:
        return _fail(f"low {_num(low)} is above high {_num(high)}")
    if not lo <= value <= hi and not _SKIP_RANGES.get():
        return _fail(f"{what} {_num(value)} {_OUTSIDE} {_num(lo)}…{_num(hi)} ({OUT_OF_RANGE_HINT})")
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# parameter files


class ParameterEntry(_Model):
    """One value with unit, source, status and an optional plausible range (``low <= value <= high``)."""

    value: Annotated[Number, Hint("write the number alone, the unit goes under 'unit', e.g. value: 2400")]
    unit: str
    source: str
    status: Status
    low: Number | None = None
    high: Number | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _in_range(self):
        error = _range_error(self.value, self.low, self.high)
        if error:
            raise error
        return self

    @property
    def lo(self) -> float:
        """Low end of the range (the value when no range is given)."""
        return self.value if self.low is None else self.low

    @property
    def hi(self) -> float:
        """High end of the range (the value when no range is given)."""
        return self.value if self.high is None else self.high


class ParameterFile(RootModel[dict[str, ParameterEntry]]):
    """A flat parameter file (``potential.yaml``, ``woodchips.yaml``, ``parcels.yaml``): name -> entry."""

    def values(self) -> dict[str, float]:
        """``{name: value}``."""
        return {name: entry.value for name, entry in self.root.items()}


# --------------------------------------------------------------------------------------------
# region files


class Municipality(_Model):
    """A municipality by its AGS (8 digits, preferred) and/or name, with its group."""

    name: str | None = None
    ags: AGS | None = None
    group: str | None = None
    inhabitants: PositiveInt | None = None

    @model_validator(mode="after")
    def _named(self):
        if self.name is None and self.ags is None:
            raise _fail("a municipality needs 'ags' (8-digit key, e.g. \"14713000\") or 'name'")
        return self


class BalanceConfig(_Model):
    """Fuel replaced by wood-chip heat and the shares of the potential realised."""

    replaced_fuel: Literal["heating_oil", "natural_gas"] = "heating_oil"
    shares: list[Share] = Field(default_factory=lambda: [0.1, 0.25, 0.5, 1.0], min_length=1)


_GROUP_FIGURES = ("inhabitants", "energy_use_mwh_a", "ghg_t_co2e_a", "land_area_ha", "settlement_ha",
                  "transport_ha", "vegetation_water_ha")


class GroupBaseline(_Model):
    """Baseline figures of one group; ``notes`` comment a figure by its key."""

    inhabitants: NonNegative | None = None
    energy_use_mwh_a: NonNegative | None = None
    ghg_t_co2e_a: NonNegative | None = None
    land_area_ha: NonNegative | None = None
    settlement_ha: NonNegative | None = None
    transport_ha: NonNegative | None = None
    vegetation_water_ha: NonNegative | None = None
    notes: dict[str, str] = Field(default_factory=dict)

    @field_validator("notes")
    @classmethod
    def _notes_name_figures(cls, notes: dict[str, str]) -> dict[str, str]:
        for key in notes:
            if key not in _GROUP_FIGURES:
                close = _closest(key, _GROUP_FIGURES)
                mean = f"; did you mean '{close}'?" if close else ";"
                raise _fail(f"unknown key '{key}'{mean} notes comment a figure: {', '.join(_GROUP_FIGURES)}")
        return notes


class DatedLoad(_Model):
    """A group's emission load (territorial) in another year than the baseline's: measured, or a
    target; as t CO2e/a or as t per inhabitant × inhabitants."""

    group: str
    year: StrictInt
    kind: Literal["measured", "target"] = "measured"
    t_co2e_a: NonNegative | None = None
    t_co2e_per_inhabitant: NonNegative | None = None
    inhabitants: PositiveInt | None = None
    status: Status
    source: str

    @model_validator(mode="after")
    def _one_figure(self):
        per_head = self.t_co2e_per_inhabitant is not None
        if (self.t_co2e_a is None) == (not per_head):  # neither or both
            raise _fail("give exactly one of t_co2e_a, or t_co2e_per_inhabitant with inhabitants")
        if per_head and self.inhabitants is None:
            raise _fail("t_co2e_per_inhabitant needs 'inhabitants' (of the same year)", ("inhabitants",))
        return self

    @property
    def load_t_co2e_a(self) -> float:
        """The load in t CO2e/a."""
        return float(self.t_co2e_a if self.t_co2e_a is not None else self.t_co2e_per_inhabitant * self.inhabitants)


class Baseline(_Model):
    """The baseline of the emission load and land statistics, per group, and dated loads."""

    year: StrictInt | None = None
    source: str | None = None
    status: Status | None = None
    groups: dict[str, GroupBaseline] = Field(default_factory=dict)
    loads: list[DatedLoad] = Field(default_factory=list)


class _Provenance(_Model):
    """Where a source's data come from: date, licence and attribution (shown in every output)."""

    date: DateText | None = None
    licence: str | None = None
    attribution: str | None = None


class _FileProvenance(_Provenance):
    """A source file: its CRS when the file lacks one, its text encoding, and its provenance."""

    crs: Annotated[str, Hint("e.g. EPSG:25833")] | None = None
    encoding: Annotated[str, Hint("e.g. cp1252 for an old Shapefile without .cpg")] | None = None


class BoundarySource(_FileProvenance):
    """Municipality boundaries from a file (e.g. BKG VG250), matched by AGS or name."""

    type: Literal["file"] = "file"
    path: str | None = None
    ags_field: str = "AGS"
    name_field: str = "GEN"
    layer: str | None = None

    @model_validator(mode="after")
    def _has_path(self):
        if self.path is None:
            raise _fail(f"'path' is missing (required for type {self.type})")
        return self


class OsmSource(_Provenance):
    """OpenStreetMap: OpenMapTiles (GeoPackage or MBTiles), an .osm file, an extract (.osm.pbf), or osmnx online."""

    type: Literal["openmaptiles", "mbtiles", "osm_xml", "osm_file", "osmnx"] = "openmaptiles"
    path: str | None = None
    buildings: str | None = None

    @model_validator(mode="after")
    def _has_path(self):
        if self.path is None and self.type != "osmnx":
            raise _fail(f"'path' is missing (required for type {self.type})")
        return self


class RasterSource(_FileProvenance):
    """A raster (soil, climate, DEM...) reprojected into the layer store.

    ``resampling: nearest`` (the default) keeps each source cell's value, right for classes and
    for values read per cell; ``bilinear`` gives a continuous surface, right for an elevation
    model whose slope is derived (nearest-neighbour steps would read as cliffs). ``cell_m`` sets
    the target cell size (default: a fifth of the source cell, at least 10 m).
    """

    path: str
    unit: str | None = None
    description: str | None = None
    resampling: Literal["nearest", "bilinear"] = "nearest"
    cell_m: Annotated[float, Field(gt=0), Hint("target cell size in metres")] | None = None


class FieldMap(_Model):
    """A file column onto a canonical column, times a unit factor (e.g. kW → MW: 0.001)."""

    column: str
    factor: float = 1.0


class FileSource(_FileProvenance):
    """An official GIS file mapped onto a canonical layer (``sources.files`` manifest entry)."""

    layer: str
    path: str
    source_layer: str | None = None
    class_field: str | None = None
    class_map: ClassMap | None = None
    value: ScalarText | None = None
    name_field: str | None = None
    where: str | None = None
    #: Canonical column → the file column (or ``{column, factor}``), e.g. ``capacity_mw:
    #: {column: gross_kw, factor: 0.001}``.
    fields: dict[str, str | FieldMap] = Field(default_factory=dict)
    #: Metres around the region the file's features are kept (default: the layer margin), for
    #: layers a distance criterion reads far out (the grid-distance curves reach 30 km).
    reach_m: Annotated[float, Field(ge=0, le=100_000)] | None = None

    @model_validator(mode="after")
    def _one_class(self):
        if (self.value is None) == (self.class_field is None):
            raise _fail("give exactly one of 'class_field' (the column holding the class) or "
                        "'value' (one class for every feature)")
        if self.class_map is not None and self.class_field is None:
            raise _fail("'class_map' needs 'class_field'", ("class_map",))
        return self


class ParcelSource(_FileProvenance):
    """Parcels (ALKIS, InVeKoS field blocks) from a file instead of derived ones."""

    path: str
    id_field: str | None = None
    layer: str | None = None


class Sources(_Model):
    """Where the region's layers come from; paths are relative to the data directory."""

    boundaries: BoundarySource | None = None
    osm: OsmSource | None = None
    rasters: dict[str, RasterSource] = Field(default_factory=dict)
    files: list[FileSource] = Field(default_factory=list)
    parcels: ParcelSource | None = None


class RegionConfig(_Model):
    """A region file (``landuse/regions/*.yaml``)."""

    name: str
    title: str | None = None
    state: str | None = None
    rule_set: str | None = None
    margin_m: Metres = 0.0
    municipalities: Annotated[
        list[Municipality], Field(min_length=1),
        Hint("give at least one municipality, e.g. - {name: Leipzig, ags: \"14713000\"}")]
    balance: BalanceConfig = Field(default_factory=BalanceConfig)
    baseline: Baseline = Field(default_factory=Baseline)
    sources: Sources
    #: The region's allocation settings over the defaults (validated as AllocationConfig once merged).
    allocation: dict[str, Any] | None = None

    @property
    def groups(self) -> list[str]:
        """Group names in the order they first appear (a municipality without group: the region's name)."""
        return list(dict.fromkeys(m.group or self.name for m in self.municipalities))

    @model_validator(mode="after")
    def _consistent(self):
        seen: dict[str, int] = {}
        named: dict[str, int] = {}
        for i, m in enumerate(self.municipalities):
            if m.ags is not None:
                if m.ags in seen:
                    raise _fail(f"AGS '{m.ags}' is listed twice (also municipalities[{seen[m.ags]}])",
                                ("municipalities", i, "ags"))
                seen[m.ags] = i
            if m.name is not None:
                # results are reported per municipality name: two of one name would be added into one row
                key = m.name.strip().casefold()
                if key in named:
                    raise _fail(f"name '{m.name}' is given twice (also municipalities[{named[key]}]); give each "
                                f"municipality its own name, e.g. '{m.name} ({m.ags or 'its AGS'})'",
                                ("municipalities", i, "name"))
                named[key] = i
        groups = self.groups
        for name in self.baseline.groups:
            if name not in groups:
                close = _closest(name, groups)
                mean = f"; did you mean '{close}'?" if close else ";"
                raise _fail(f"unknown group '{name}'{mean} the municipalities' groups are {', '.join(groups)}",
                            ("baseline", "groups"))
        for i, load in enumerate(self.baseline.loads):
            if load.group not in groups:
                close = _closest(load.group, groups)
                mean = f"; did you mean '{close}'?" if close else ";"
                raise _fail(f"unknown group '{load.group}'{mean} the municipalities' groups are {', '.join(groups)}",
                            ("baseline", "loads", i, "group"))
        return self


# --------------------------------------------------------------------------------------------
# rule sets


class ExclusionRule(_Model):
    """A hard exclusion: features of ``layer`` matching ``where``, buffered by ``buffer`` metres."""

    name: str
    layer: str
    where: str | None = None
    buffer: Buffer
    #: The distance for a turbine that replaces an existing one (repowering), where the law lets
    #: it come closer; a number or an expression like ``buffer``.
    repowering_buffer: Buffer | None = None
    measured_from: Literal["tower", "rotor"] | None = None
    unit: Annotated[Literal["m"], Hint("buffers are given in metres")]
    low: Number | None = None
    high: Number | None = None
    status: Status
    source: str

    @model_validator(mode="after")
    def _in_range(self):
        if isinstance(self.buffer, float):
            error = _range_error(self.buffer, self.low, self.high, "buffer")
        elif self.low is not None and self.high is not None and self.low > self.high:
            error = _fail(f"low {_num(self.low)} is above high {_num(self.high)}")
        else:
            error = None
        if error:
            raise error
        return self


class ScoreRule(_Model):
    """A soft criterion: sub-score 0…100 of a parcel attribute by a curve or a class map."""

    name: str
    attribute: str
    curve: Annotated[list[CurvePoint], Field(min_length=1)] | None = None
    map: ScoreMap | None = None
    weight: NonNegative = 1.0
    status: Status
    source: str

    @model_validator(mode="after")
    def _curve_or_map(self):
        if (self.curve is None) == (self.map is None):
            raise _fail("give exactly one of 'curve' (points [x, score]) or 'map' (class: score)")
        for i, (a, b) in enumerate(zip(self.curve or [], (self.curve or [])[1:], strict=False)):
            if b[0] <= a[0]:
                raise _fail(f"x {_num(b[0])} must be greater than the x {_num(a[0])} before it "
                            "(curve points go by increasing x)", ("curve", i + 1))
        return self


class LimitRule(_Model):
    """A hard limit on a parcel attribute (e.g. mean slope): parcels beyond it are not eligible."""

    name: str
    attribute: str
    max: Number | None = None
    min: Number | None = None
    unit: str
    low: Number | None = None
    high: Number | None = None
    status: Status
    source: str

    @model_validator(mode="after")
    def _bound(self):
        if self.max is None and self.min is None:
            raise _fail("give 'max' or 'min' (the limit, in the attribute's unit)")
        for key in ("max", "min"):
            value = getattr(self, key)
            if value is not None:
                error = _range_error(value, self.low, self.high, key)
                if error:
                    raise error
        return self


_ENTRY_KEYS = frozenset(ParameterEntry.model_fields)
_ENTRY_HINT = "a parameter entry {value, unit, source, status} or a mapping of such entries"


def _entry_or_group(v: Any) -> "ParameterEntry | dict[str, ParameterEntry]":
    """An extra key of a rule set: one parameter entry or a group of them (``turbine:``)."""
    if isinstance(v, ParameterEntry):
        return v
    if not isinstance(v, dict) or not v:
        raise _fail(f"{_show(v)} must be {_ENTRY_HINT}")
    tp = ParameterEntry if _ENTRY_KEYS & set(v) else dict[str, ParameterEntry]
    try:
        return TypeAdapter(tp).validate_python(v)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        loc, problem, more = _describe(errors[0], tp)
        raise _fail(problem, loc, more + len(errors) - 1) from None


class RuleSetConfig(BaseModel):
    """A rule set (``landuse/criteria/<technology>.yaml``).

    Keys besides the declared ones are values of the rule set: a parameter entry
    (``min_patch_ha: {value: 3, ...}``) or a group of them (``turbine: {rotor_diameter_m: {...}}``).
    Layer names, ``where`` columns and the names in buffer expressions are checked by the caller.
    """

    model_config = ConfigDict(extra="allow")

    technology: str
    rule_set: str | None = None
    eligible_classes: list[LandCover]
    exclusions: list[ExclusionRule] = Field(default_factory=list)
    limits: list[LimitRule] = Field(default_factory=list)
    scores: list[ScoreRule] = Field(default_factory=list)
    __pydantic_extra__: dict[str, Annotated[Any, PlainValidator(_entry_or_group)]] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _misspelt_keys(cls, data: Any) -> Any:
        """A non-mapping under a key close to a declared one is a typo, not a parameter."""
        if isinstance(data, dict):
            fields = list(cls.model_fields)
            for key, value in data.items():
                if key in fields or isinstance(value, dict):
                    continue
                close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.75)
                if close:
                    raise _fail(f"unknown key '{key}'; did you mean '{close[0]}'? allowed: "
                                f"{', '.join(fields)}, or parameter entries")
        return data

    @model_validator(mode="after")
    def _unique(self):
        for key in ("exclusions", "limits", "scores"):
            seen: set[str] = set()
            for i, rule in enumerate(getattr(self, key)):
                if rule.name in seen:
                    raise _fail(f"the rule name '{rule.name}' is used twice; names must be unique within {key}",
                                (key, i, "name"))
                seen.add(rule.name)
        if self.scores and sum(s.weight for s in self.scores) <= 0:
            raise _fail("the weights of the scores add up to 0; give at least one weight > 0", ("scores",))
        seen: dict[str, str] = {}
        for key, value in (self.model_extra or {}).items():
            items = [(key, "")] if isinstance(value, ParameterEntry) else [(name, key) for name in value]
            for name, group in items:
                if name in seen:
                    other = f"under '{seen[name]}'" if seen[name] else "at the top level"
                    raise _fail(f"parameter name '{name}' is given twice (also {other}); names must be unique",
                                (group, name) if group else (name,))
                seen[name] = group
        return self

    def values(self) -> dict[str, ParameterEntry]:
        """The rule set's parameter entries by name (groups flattened)."""
        out: dict[str, ParameterEntry] = {}
        for key, value in (self.model_extra or {}).items():
            if isinstance(value, ParameterEntry):
                out[key] = value
            else:
                out.update(value)
        return out

    def value_groups(self) -> dict[str, str]:
        """Name -> the group key it sits under (``turbine``), ``''`` for top-level entries."""
        out: dict[str, str] = {}
        for key, value in (self.model_extra or {}).items():
            if isinstance(value, ParameterEntry):
                out.setdefault(key, "")
            else:
                for name in value:
                    out.setdefault(name, key)
        return out


# --------------------------------------------------------------------------------------------
# scenarios


class TechnologyOverride(BaseModel):
    """A scenario's changes to one technology's rule set (checked fully once applied)."""

    model_config = ConfigDict(extra="allow")

    eligible_classes: list[LandCover] | None = None
    exclusions: dict[str, dict[str, Any]] | None = None
    scores: dict[str, dict[str, Any]] | None = None
    __pydantic_extra__: dict[str, dict[str, Any]] = Field(init=False)


class Scenario(BaseModel):
    """A named rule variant: a description and, per technology name, its overrides."""

    model_config = ConfigDict(extra="allow")

    description: str = ""
    __pydantic_extra__: dict[str, TechnologyOverride] = Field(init=False)

    def technologies(self) -> list[str]:
        """The technology names the scenario changes."""
        return list(self.model_extra or {})

    def override(self, technology: str) -> dict[str, Any]:
        """The overrides of one technology as written (``{}`` when the scenario leaves it alone)."""
        change = (self.model_extra or {}).get(technology)
        return change.model_dump(exclude_unset=True) if change is not None else {}


class ScenariosFile(RootModel[dict[str, Scenario]]):
    """``scenarios.yaml``: scenario name -> :class:`Scenario`."""


# --------------------------------------------------------------------------------------------
# land statistics


class WidthEntry(_Model):
    """A typical cross-section width (m) with range and status."""

    value: NonNegative
    unit: str
    low: Number | None = None
    high: Number | None = None
    status: Status
    source: str | None = None

    @model_validator(mode="after")
    def _in_range(self):
        error = _range_error(self.value, self.low, self.high)
        if error:
            raise error
        return self


class Widths(_Model):
    """Widths that turn road and railway lines into transport area."""

    source: str
    road_kind: dict[str, WidthEntry]
    railway_kind: dict[str, WidthEntry]


class LandStatisticsConfig(_Model):
    """``land_statistics.yaml``: canonical classes onto statistical land categories, line widths."""

    settlement_classes: list[str]
    settlement_subclasses: list[str]
    transport_classes: list[str]
    transport_aeroway_classes: list[str] = Field(default_factory=list)
    widths: Widths


# --------------------------------------------------------------------------------------------
# land allocation (landuse/parameters/allocation.yaml and a region's allocation: section)


class Compatible(_Model):
    uses: list[str] = Field(min_length=2, max_length=2)
    status: Status
    source: str


class TechnologyLimits(_Model):
    """Constraints on one use in a municipality (each optional)."""

    max_share_of_area: ParameterEntry | None = None
    max_share_of_eligible: ParameterEntry | None = None
    max_ha: ParameterEntry | None = None
    min_ha: ParameterEntry | None = None
    #: An area target: the eligible area of the units allocated (e.g. wind areas as WindBG counts
    #: them) as a share of the municipal area, as far as the municipality's eligible land allows.
    min_share_of_area: ParameterEntry | None = None
    exclude_classes: list[LandCover] = Field(default_factory=list)


class Constraints(_Model):
    farmland_floor: ParameterEntry | None = None
    technologies: dict[str, TechnologyLimits] = Field(default_factory=dict)


class PriorityStep(_Model):
    technology: str
    where: str | None = None
    label: str | None = None


class AllocationConfig(_Model):
    """``allocation.yaml`` (and a region's ``allocation:`` section over it)."""

    compatible: list[Compatible] = Field(default_factory=list)
    method: Literal["optimise", "priority"] = "optimise"
    objective: Literal["t_co2e", "mwh", "score_area"] = "t_co2e"
    priority: list[PriorityStep] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    municipalities: dict[str, Constraints] = Field(default_factory=dict)
