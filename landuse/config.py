"""Region configuration and data location.

A region is a YAML file: its municipalities (by AGS or name), the baseline of the emission
load, and the sources its layers come from. The default region ships with the package
(``landuse/regions/leipzig-wurzen.yaml``); any other set of German municipalities is declared
the same way and passed by path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from landuse.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: The one working CRS for every measurement (ETRS89 / UTM 33N).
WORKING_CRS = "EPSG:25833"
#: CRS for web maps only.
WEB_CRS = "EPSG:4326"

PACKAGE_DIR = Path(__file__).resolve().parent
REGIONS_DIR = PACKAGE_DIR / "regions"
DEFAULT_REGION = "leipzig-wurzen"

_REGION_KEYS = {
    "name", "title", "state", "rule_set", "margin_m", "municipalities", "baseline", "sources", "balance",
}
_MUNICIPALITY_KEYS = {"name", "ags", "group", "inhabitants"}
_BALANCE_KEYS = {"replaced_fuel", "shares"}
_SOURCE_KEYS = {"boundaries", "osm", "rasters", "files", "parcels"}


@dataclass(frozen=True)
class Municipality:
    """One municipality of a region: name, official key (AGS, 8 digits) and group."""

    name: str | None
    ags: str | None
    group: str
    inhabitants: int | None = None


@dataclass
class Region:
    """A validated region configuration.

    Attributes
    ----------
    name : str
        Short name, used for file names (``layers/<name>.gpkg``).
    municipalities : list of Municipality
        The municipalities, each with AGS and/or name and a group (e.g. "Leipzig").
    margin_m : float
        Minimum margin (m) kept around the region in every layer.
    baseline : dict
        Baseline figures per group (inhabitants, energy use, emissions, land areas).
    balance : dict
        Balance settings: ``replaced_fuel`` (heating_oil or natural_gas) and ``shares`` of the
        potential realised.
    sources : dict
        Source declarations (boundaries, osm, rasters, files), paths relative to the data dir.
    path : Path
        The YAML file the region was read from.
    """

    name: str
    title: str
    municipalities: list[Municipality]
    margin_m: float
    baseline: dict[str, Any]
    sources: dict[str, Any]
    path: Path
    state: str = ""
    rule_set: str = "saxony"
    balance: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def groups(self) -> list[str]:
        """Group names in the order they first appear."""
        return list(dict.fromkeys(m.group for m in self.municipalities))

    def checksum(self) -> str:
        """SHA-256 of the configuration (stable key order), for cache keys."""
        text = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def available_regions() -> list[str]:
    """Names of the regions shipped with the package."""
    return sorted(p.stem for p in REGIONS_DIR.glob("*.yaml"))


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping at the top level.")
    return data


def load_region(region: str | os.PathLike = DEFAULT_REGION) -> Region:
    """Load and validate a region configuration.

    Parameters
    ----------
    region : str or path-like
        Name of a region shipped with the package (see :func:`available_regions`) or the path
        of a region YAML file.

    Returns
    -------
    Region

    Raises
    ------
    ConfigError
        Unknown region name (with close matches), unknown keys, or missing fields.
    """
    path = Path(region)
    if not (path.suffix in {".yaml", ".yml"} or path.exists()):
        path = REGIONS_DIR / f"{region}.yaml"
        if not path.exists():
            names = available_regions()
            close = difflib.get_close_matches(str(region), names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"Unknown region '{region}'. Known regions: {', '.join(names)}.{hint} "
                "Or pass the path of a region YAML file."
            )
    if not path.exists():
        raise ConfigError(f"Region file {path} does not exist.")
    raw = _read_yaml(path, "Region file")
    unknown = set(raw) - _REGION_KEYS
    if unknown:
        raise ConfigError(
            f"Region file {path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_REGION_KEYS)}."
        )
    for key in ("name", "municipalities", "sources"):
        if key not in raw:
            raise ConfigError(f"Region file {path}: missing required key '{key}'.")
    munis = []
    for i, m in enumerate(raw["municipalities"]):
        if not isinstance(m, dict) or not ({"name", "ags"} & set(m)):
            raise ConfigError(
                f"Region file {path}: municipality #{i + 1} needs 'ags' (8-digit key) or 'name'."
            )
        bad = set(m) - _MUNICIPALITY_KEYS
        if bad:
            raise ConfigError(f"Region file {path}: municipality #{i + 1} has unknown keys {sorted(bad)}.")
        ags = str(m["ags"]) if m.get("ags") is not None else None
        if ags is not None and (len(ags) != 8 or not ags.isdigit()):
            raise ConfigError(
                f"Region file {path}: municipality #{i + 1} AGS '{ags}' must be 8 digits "
                "(e.g. 14713000 for Leipzig)."
            )
        inhabitants = m.get("inhabitants")
        if inhabitants is not None and (not isinstance(inhabitants, int) or inhabitants <= 0):
            raise ConfigError(f"Region file {path}: municipality #{i + 1} inhabitants must be a positive integer.")
        munis.append(Municipality(name=m.get("name"), ags=ags, group=str(m.get("group", raw["name"])),
                                  inhabitants=inhabitants))
    if not munis:
        raise ConfigError(f"Region file {path}: 'municipalities' is empty.")
    sources = raw["sources"] or {}
    bad = set(sources) - _SOURCE_KEYS
    if bad:
        raise ConfigError(f"Region file {path}: unknown source(s) {sorted(bad)}; allowed: {sorted(_SOURCE_KEYS)}.")
    bal = raw.get("balance") or {}
    bad = set(bal) - _BALANCE_KEYS
    if bad:
        raise ConfigError(
            f"Region file {path}: balance has unknown keys {sorted(bad)}; allowed: {sorted(_BALANCE_KEYS)}.")
    if bal.get("replaced_fuel", "heating_oil") not in ("heating_oil", "natural_gas"):
        raise ConfigError(f"Region file {path}: balance.replaced_fuel must be heating_oil or natural_gas.")
    if any(not 0 < float(x) <= 1 for x in bal.get("shares", [1.0])):
        raise ConfigError(f"Region file {path}: balance.shares must lie in (0, 1], e.g. [0.1, 0.25, 0.5, 1.0].")
    margin = float(raw.get("margin_m", 0))
    if margin < 0:
        raise ConfigError(f"Region file {path}: margin_m must be >= 0 m, got {margin}.")
    return Region(
        name=str(raw["name"]),
        title=str(raw.get("title", raw["name"])),
        municipalities=munis,
        margin_m=margin,
        baseline=raw.get("baseline") or {},
        sources=sources,
        path=path,
        state=str(raw.get("state", "")),
        rule_set=str(raw.get("rule_set", "saxony")),
        balance={"replaced_fuel": bal.get("replaced_fuel", "heating_oil"),
                 "shares": [float(x) for x in bal.get("shares", [0.1, 0.25, 0.5, 1.0])]},
        raw=raw,
    )


def repo_root() -> Path:
    """The checkout the package runs from (parent of the package directory)."""
    return PACKAGE_DIR.parent


def data_search_order(region: Region) -> list[str]:
    """Human-readable list of the places searched for a region's data, in order."""
    env = os.environ.get("LANDUSE_DATA")
    return ["--data DIR", f"$LANDUSE_DATA ({env or 'not set'})",
            *[str(p) for p in _shared_candidates(region)], "online fetch through osmnx"]


def _shared_candidates(region: Region) -> list[Path]:
    """``../shared/data/<region>`` beside the checkout and beside the working directory."""
    paths = [repo_root().parent / "shared" / "data" / region.name,
             Path.cwd().resolve().parent / "shared" / "data" / region.name]
    return list(dict.fromkeys(paths))


def resolve_data_dir(region: Region, data: str | os.PathLike | None = None) -> Path | None:
    """Find the data directory of a region.

    Order: ``data`` argument, ``$LANDUSE_DATA``, ``../shared/data/<region>`` beside the
    checkout. Returns ``None`` when none of these exists: the caller then fetches
    OpenStreetMap data online through osmnx.

    Raises
    ------
    DataError
        When ``data`` or ``$LANDUSE_DATA`` names a directory that does not exist.
    """
    if data is not None:
        path = Path(data)
        if path.is_dir():
            return path
        raise DataError(f"Data directory {path} (from --data) does not exist or is not a directory.")
    env = os.environ.get("LANDUSE_DATA")
    if env:
        path = Path(env)
        if path.is_dir():
            return path
        raise DataError(f"Data directory {path} (from $LANDUSE_DATA) does not exist or is not a directory.")
    for beside in _shared_candidates(region):
        if beside.is_dir():
            return beside
    log.info("No local data for %s; layers will be fetched online through osmnx.", region.name)
    return None
