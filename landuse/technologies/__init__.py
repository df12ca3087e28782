"""The technology registry: each technology is one module plus its rule file (YAML).

A technology declares what the shared stages need and adds only what is its own:

- ``rules_file``: its rule set (eligible land cover, exclusions with buffers, soft criteria and
  its values), read by :mod:`landuse.criteria`; ``values``: the names of the values its code
  reads from that file (anything else in the file is a typo and an error);
- ``prepare`` / ``finish``: its own post-processing before and after the shared scoring
  engine (:func:`landuse.suitability.score_technology`), e.g. turbine placement;
- ``potential``: its potential formulas (capacity, energy, avoided and sequestered t CO2e/a);
- ``outputs``, ``layers``, ``title``, ``color``, ``abbreviation``, ``field_units``: what the
  balance, maps and exports show (labels, units, palette, field names).

Pipeline, CLI, balance, maps and exports loop over :func:`technologies`. The built-ins are
wind, open-space PV and agroforestry / short-rotation coppice; other packages add theirs with
an entry point in the group ``landuse.technologies`` (an object or a zero-argument class), or
at run time with :func:`register`.

Adding a technology::

    # my_tech.py, beside my_tech.yaml (technology: my_tech, eligible_classes, exclusions, scores)
    class MyTech(Technology):
        name, title, color, abbreviation = "my_tech", "My technology", "#984ea3", "mt"
        rules_file = Path(__file__).with_name("my_tech.yaml")
        outputs = (Output("my_tech_mwh_a", "Energy", "MWh/a", 0, "energy"),)
        def potential(self, scored, values, *, rules, options): ...
    register(MyTech())
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from landuse.errors import ConfigError

if TYPE_CHECKING:
    import geopandas as gpd

    from landuse.criteria import RuleSet
    from landuse.layers import LayerSet

log = logging.getLogger(__name__)

#: The built-in technologies (module names under landuse.technologies), in map and table order.
BUILTIN = ("wind", "pv", "agroforestry")
ENTRY_POINT_GROUP = "landuse.technologies"

OutputKind = Literal["count", "capacity", "energy", "area", "mass", "avoided", "sequestered", "stock"]


@dataclass(frozen=True)
class Output:
    """One column of a technology's potential (per parcel, summed in the balance).

    Attributes
    ----------
    column : str
        Column name, with the unit in its suffix (``_mw``, ``_mwh_a``, ``_t_co2e_a``, …).
    label, unit : str
        What the balance, maps and workbooks call it and its unit.
    decimals : int
        Decimals shown in popups.
    kind : str
        ``avoided`` and ``sequestered`` flows add up to the totals (``avoided_t_co2e_a``,
        ``sequestered_t_co2e_a``) when ``in_total``; ``stock`` is a one-off stock.
    headline : bool
        Shown in comparisons (rule variants, monitoring) and the CLI's one-line balance.
    in_total : bool
        False for potentials reported apart (e.g. Agri-PV on good farmland).
    territorial : bool
        An avoided flow that also lowers the territorial (BISKO) balance: local fossil heat
        replaced. Electricity never does (the territorial balance counts it at the grid mix).
    electricity : bool
        Local renewable electricity (MWh/a), reported in the territorial frame as generation
        and as a share of the energy use.
    """

    column: str
    label: str
    unit: str
    decimals: int
    kind: OutputKind
    headline: bool = False
    in_total: bool = True
    territorial: bool = False
    electricity: bool = False


@dataclass(frozen=True)
class ResultLayer:
    """A result layer of a technology besides its eligible areas (``<technology>_<key>``).

    Attributes
    ----------
    key : str
        Key in the technology's results; the layer is written as ``<technology>_<key>``.
    title : str
        Layer name in maps and legends, with its unit where it has one.
    geometry : {"polygon", "point"}
    color : str
        Hex colour of the symbol.
    style : {"fill", "outline"}
        Polygons filled, or drawn as a dashed outline (areas that overlap others).
    fields : dict
        Column → label shown in the map's tooltip and popup.
    per_parcel : bool
        The frame is indexed by parcel id (written as a ``parcel_id`` column).
    show : bool
        Visible when the map opens.
    simplify_m : float or None
        Display simplification (m) in web maps; None uses the map's default.
    """

    key: str
    title: str
    geometry: Literal["polygon", "point"]
    color: str
    style: Literal["fill", "outline"] = "fill"
    fields: Mapping[str, str] = field(default_factory=dict)
    per_parcel: bool = True
    show: bool = True
    simplify_m: float | None = None


@dataclass
class Assessment:
    """One technology's suitability while it is being computed (parcels' index throughout).

    Attributes
    ----------
    parcels : GeoDataFrame
        The parcel model.
    layers : LayerSet
        Canonical layers (region and margin).
    rules : RuleSet
        The technology's rule set in use.
    table : DataFrame
        Per parcel: ``eligible_ha``, ``reason``, ``excl_<rule>_share`` and what the technology adds.
    eligible : ndarray
        Eligible geometry per parcel (empty polygons where nothing is eligible).
    attributes : DataFrame
        Extra parcel attributes a soft criterion may read.
    shares : dict of str to DataFrame
        Attribute → per parcel, the share of the eligible area in each class (columns); a
        class-map criterion on such an attribute scores the area-weighted mean.
    layers_out : dict of str to GeoDataFrame
        Result layers by key (see :class:`ResultLayer`).
    """

    parcels: gpd.GeoDataFrame
    layers: LayerSet
    rules: RuleSet
    table: pd.DataFrame
    eligible: np.ndarray
    attributes: pd.DataFrame = field(default_factory=pd.DataFrame)
    shares: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers_out: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)


class Technology:
    """Base of every technology: declarations and no-op hooks (see the module docstring)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    color: ClassVar[str] = "#666666"
    #: Prefix of its Shapefile field names (2–3 letters).
    abbreviation: ClassVar[str] = ""
    rules_file: ClassVar[Path | None] = None
    #: Names of the values its code reads from the rule file.
    values: ClassVar[tuple[str, ...]] = ()
    #: Of those, the ones whose declared range enters the potential's low/high.
    ranged_values: ClassVar[tuple[str, ...]] = ()
    #: Columns of its table summed per municipality in the suitability summary (besides eligible_ha).
    summary_columns: ClassVar[tuple[str, ...]] = ()
    layers: ClassVar[tuple[ResultLayer, ...]] = ()
    outputs: ClassVar[tuple[Output, ...]] = ()
    #: Show the eligible-area layer when the map opens.
    show_eligible: ClassVar[bool] = False
    #: Key of its point layer whose points are its units (e.g. "turbines"); None: an area claim.
    unit_points: ClassVar[str | None] = None
    #: Table column → unit, for the field list of the exports.
    field_units: ClassVar[Mapping[str, str]] = {}
    #: Words of its column names → abbreviations for 10-character Shapefile names.
    abbreviations: ClassVar[Mapping[str, str]] = {}

    def prepare(self, a: Assessment) -> Assessment:
        """Its own steps after the exclusions and before the soft criteria (default: none)."""
        return a

    def finish(self, a: Assessment) -> Assessment:
        """Its own steps after the scores (default: none)."""
        return a

    def claim(self, scored: pd.DataFrame, potential: pd.DataFrame, *, rules: RuleSet) -> pd.DataFrame:
        """The land this technology claims per parcel, for the allocation (one hectare, one use).

        Default: its eligible area in ha, one hectare of land per hectare, and on arable land
        one hectare of food production lost per hectare.

        Parameters
        ----------
        scored : DataFrame
            Scored parcels (``<name>_<column>`` results, ``class``).
        potential : DataFrame
            The technical potential per parcel (same index).
        rules : RuleSet
            The rule set in use.

        Returns
        -------
        DataFrame
            ``units`` (ha, or a count such as turbines), ``ha_per_unit`` (land taken by one unit)
            and ``farmland_ha_per_unit`` (food production lost by one unit), on the parcels' index.
        """
        arable = scored["class"].eq("arable").astype(float) if "class" in scored else 0.0
        return pd.DataFrame({"units": self.column(scored, "eligible_ha"), "ha_per_unit": 1.0,
                             "farmland_ha_per_unit": arable}, index=scored.index)

    def potential(self, scored: pd.DataFrame, values: Mapping[str, float], *, rules: RuleSet,
                  options: Mapping[str, Any]) -> pd.DataFrame:
        """Potential per parcel: the columns of :attr:`outputs` (default: zeros).

        Parameters
        ----------
        scored : DataFrame
            Scored parcels: this technology's results as ``<name>_<column>`` and the parcel attributes.
        values : mapping
            Parameter values by name (potential parameters and :attr:`ranged_values`).
        rules : RuleSet
            The rule set in use (e.g. the turbine's rated power).
        options : mapping
            The region's balance settings (e.g. ``replaced_fuel``).
        """
        return pd.DataFrame({o.column: 0.0 for o in self.outputs}, index=scored.index)

    def potential_ranges(self, scored: pd.DataFrame, params: Mapping[str, Any], *,
                         rules: RuleSet) -> dict[str, tuple[pd.Series, pd.Series]]:
        """Low and high ends its formulas cannot get from the parameter ranges alone (e.g. turbine
        counts from placements at the range ends): column → (low, high) per parcel. Default: none.

        Parameters
        ----------
        scored : DataFrame
            Scored parcels.
        params : mapping
            Parameter name → :class:`landuse.parameters.Parameter` (value, low, high).
        rules : RuleSet
            The rule set in use.
        """
        return {}

    # helpers for subclasses --------------------------------------------------------------

    def column(self, scored: pd.DataFrame, name: str) -> pd.Series:
        """This technology's numeric result ``<name>_<column>`` (0 where missing)."""
        col = f"{self.name}_{name}"
        if col in scored.columns:
            return pd.to_numeric(scored[col], errors="coerce").fillna(0.0)
        return pd.Series(0.0, index=scored.index)

    @property
    def result_layer_names(self) -> list[str]:
        """Its layers as written: ``<name>_eligible`` and ``<name>_<key>`` of each :attr:`layers`."""
        return [f"{self.name}_eligible", *[f"{self.name}_{layer.key}" for layer in self.layers]]

    @property
    def source_files(self) -> list[Path]:
        """Its module and rule file (they enter the cache keys of the stages that use them)."""
        try:
            module = Path(inspect.getfile(type(self)))
        except TypeError:  # a class whose module is not in sys.modules: its methods know their file
            code = next(f.__code__ for f in vars(type(self)).values() if hasattr(f, "__code__"))
            module = Path(code.co_filename)
        return [module] + ([Path(self.rules_file)] if self.rules_file else [])

    def __repr__(self) -> str:
        return f"<Technology {self.name}>"


_REGISTRY: dict[str, Technology] = {}
_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for name in BUILTIN:
        importlib.import_module(f"landuse.technologies.{name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        register(obj() if inspect.isclass(obj) else obj)


def register(technology: Technology, *, replace: bool = False) -> Technology:
    """Add a technology to the registry (it then runs in every stage, map and export).

    Raises
    ------
    ConfigError
        A technology of that name is registered already (unless ``replace``), or a declaration
        is missing.
    """
    _check(technology)
    if technology.name in _REGISTRY and not replace and type(_REGISTRY[technology.name]) is not type(technology):
        raise ConfigError(f"A technology named {technology.name!r} is registered already.")
    _REGISTRY[technology.name] = technology
    return technology


def unregister(name: str) -> None:
    """Remove a technology from the registry."""
    _REGISTRY.pop(name, None)


@contextlib.contextmanager
def registered(technology: Technology) -> Iterator[Technology]:
    """Register a technology for the duration of a ``with`` block."""
    _load_builtins()
    register(technology)
    try:
        yield technology
    finally:
        unregister(technology.name)


def _check(t: Technology) -> None:
    missing = [a for a in ("name", "title", "abbreviation", "rules_file") if not getattr(t, a, None)]
    if missing:
        raise ConfigError(f"Technology {type(t).__name__} declares no {', '.join(missing)}.")
    if not t.name.isidentifier() or t.name != t.name.lower():
        raise ConfigError(f"Technology name {t.name!r} must be a lower-case identifier (used in column names).")


def use(techs: list[Technology]) -> None:
    """Make the registry exactly ``techs``, in this order: a process spawned for part of a run
    takes its parent's registry, with what was registered at run time and without what was removed."""
    global _LOADED
    for t in techs:
        _check(t)
    _LOADED = True
    _REGISTRY.clear()
    _REGISTRY.update((t.name, t) for t in techs)


def technologies() -> list[Technology]:
    """The registered technologies in registration order (built-ins first)."""
    _load_builtins()
    return list(_REGISTRY.values())


def names() -> list[str]:
    """Names of the registered technologies."""
    return [t.name for t in technologies()]


def get(name: str) -> Technology:
    """The technology called ``name``.

    Raises
    ------
    ConfigError
        No such technology (the message lists the known ones).
    """
    _load_builtins()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown technology {name!r}; registered: {', '.join(_REGISTRY)}.{hint}")
    return _REGISTRY[name]


def all_outputs() -> list[Output]:
    """Every registered technology's potential columns, in registry order."""
    return [o for t in technologies() for o in t.outputs]


def total_columns(kind: Literal["avoided", "sequestered"]) -> list[str]:
    """The potential columns that add up to ``avoided_t_co2e_a`` or ``sequestered_t_co2e_a``."""
    return [o.column for o in all_outputs() if o.kind == kind and o.in_total]


__all__ = ["Technology", "Output", "ResultLayer", "Assessment", "register", "unregister", "registered",
           "use", "technologies", "names", "get", "all_outputs", "total_columns"]
