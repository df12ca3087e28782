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

from landuse.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: The one working CRS for every measurement (ETRS89 / UTM 33N).
WORKING_CRS = "EPSG:25833"
#: CRS for web maps only.
WEB_CRS = "EPSG:4326"

PACKAGE_DIR = Path(__file__).resolve().parent
REGIONS_DIR = PACKAGE_DIR / "regions"
DEFAULT_REGION = "leipzig-wurzen"

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
    from landuse import schema

    raw = schema.read_yaml(path, what="Region file")
    if not isinstance(raw, dict):
        raise ConfigError(f"Region file {path} must hold a mapping at the top level (name, municipalities, sources).")
    return region_from_mapping(raw, path)


def region_from_mapping(raw: dict[str, Any], path: Path) -> Region:
    """Validate a region mapping (as read from a region YAML file, or built for an ad-hoc region).

    Parameters
    ----------
    raw : dict
        The region's keys (name, municipalities, baseline, sources, …).
    path : Path
        The file it came from (or stands for), named in messages.

    Returns
    -------
    Region
    """
    from landuse import schema

    cfg = schema.validate(schema.RegionConfig, raw, path=path)
    munis = [Municipality(name=m.name, ags=m.ags, group=m.group or cfg.name, inhabitants=m.inhabitants)
             for m in cfg.municipalities]
    return Region(
        name=cfg.name,
        title=cfg.title or cfg.name,
        municipalities=munis,
        margin_m=float(cfg.margin_m),
        baseline=raw.get("baseline") or {},
        sources=raw.get("sources") or {},
        path=path,
        state=cfg.state or "",
        rule_set=cfg.rule_set or "saxony",
        balance={"replaced_fuel": cfg.balance.replaced_fuel, "shares": [float(x) for x in cfg.balance.shares]},
        raw=raw,
    )


def settings_from_env(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run settings from environment variables (for notebooks and scripts that run unedited for
    any region): ``LANDUSE_REGION`` (name or YAML path; default the default region),
    ``LANDUSE_DATA`` (unset: found by :func:`resolve_data_dir`), ``LANDUSE_LAYERS`` (default
    ``<root>/layers``) and ``LANDUSE_OUT`` (default ``<root>/outputs/<region>``).

    Returns
    -------
    dict
        ``region`` (a :class:`Region`), ``data``, ``layers_dir``, ``out``: keyword arguments of
        :func:`landuse.pipeline.run`.
    """
    root = Path(root) if root else repo_root()
    region = load_region(os.environ.get("LANDUSE_REGION") or DEFAULT_REGION)
    return {"region": region, "data": os.environ.get("LANDUSE_DATA") or None,
            "layers_dir": Path(os.environ.get("LANDUSE_LAYERS") or root / "layers"),
            "out": Path(os.environ.get("LANDUSE_OUT") or root / "outputs" / region.name)}


def repo_root() -> Path:
    """The checkout the package runs from (parent of the package directory)."""
    return PACKAGE_DIR.parent


def data_search_order(region: Region) -> list[str]:
    """Human-readable list of the places searched for a region's data, in order."""
    env = os.environ.get("LANDUSE_DATA")
    return ["--data DIR", f"$LANDUSE_DATA ({env or 'not set'})",
            *[str(p) for p in _shared_candidates(region)], "online fetch through osmnx"]


def shared_data_root() -> Path:
    """The data root for ad-hoc regions: ``$LANDUSE_DATA``, else ``../shared/data`` beside the checkout
    (then beside the working directory).

    Raises
    ------
    DataError
        None of them exists.
    """
    env = os.environ.get("LANDUSE_DATA")
    candidates = [Path(env)] if env else []
    candidates += [repo_root().parent / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(f"No data root found for --ags (tried {', '.join(map(str, candidates))}); pass --data with the "
                    "folder that holds sachsen/, germany/ and leipzig-wurzen/.")


def _shared_candidates(region: Region) -> list[Path]:
    """``../shared/data/<region>`` beside the checkout and beside the working directory."""
    paths = [repo_root().parent / "shared" / "data" / region.name,
             Path.cwd().resolve().parent / "shared" / "data" / region.name]
    return list(dict.fromkeys(paths))


def resolve_data_dir(region: Region, data: str | os.PathLike | None = None) -> Path | None:
    """Find the data directory of a region.

    Order: ``data`` argument, ``$LANDUSE_DATA``, ``../shared/data/<region>`` beside the
    checkout (then beside the working directory).

    Parameters
    ----------
    region : Region
    data : path-like, optional
        Data directory given by the user (``--data``).

    Returns
    -------
    Path or None
        ``None`` when none of these exists: the caller then fetches OpenStreetMap data online
        through osmnx.

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
