"""Stage cache: results of the stages kept apart from the deliverables, under keys that cover
every input file, every option and the package code a stage depends on.

The code a stage depends on is found, not listed: the import closure of the stage's modules
inside the package (every ``import landuse…`` / ``from landuse… import``, also those inside
functions), read from the source with :mod:`ast`. Editing any module in that closure reruns
the stage.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq

from landuse import __version__
from landuse.io import atomic_path, config_hash, make_dir, sha256_file, write_json

log = logging.getLogger(__name__)

PACKAGE = "landuse"
PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_DIRNAME = ".landuse-cache"


def _module_file(module: str, package_dir: Path = PACKAGE_DIR) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (package_dir / rel / "__init__.py", (package_dir / rel).with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str, package_dir: Path) -> set[str]:
    """Package modules imported anywhere in a source file (absolute and relative imports)."""
    return set(_imports_cached(path, path.stat().st_mtime_ns, module, package_dir))


@functools.cache
def _imports_cached(path: Path, mtime_ns: int, module: str, package_dir: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != PACKAGE:
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from landuse import technologies`
    return frozenset(m for m in found if _module_file(m, package_dir) is not None)


@functools.cache
def module_closure(*modules: str, package_dir: Path = PACKAGE_DIR) -> tuple[Path, ...]:
    """Source files of ``modules`` and of every package module they import, transitively.

    Parameters
    ----------
    *modules : str
        Dotted module names, e.g. ``"landuse.parcels"``.
    package_dir : Path
        Folder of the package's sources (default: this package).

    Returns
    -------
    tuple of Path
        Sorted source files (``__init__.py`` of every package on the way included).
    """
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _module_file(mod, package_dir)
        if path is None:
            continue
        seen[mod] = path
        parts = mod.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]  # parent packages run first
        todo += sorted(_imports(path, mod, package_dir))
    return tuple(sorted(set(seen.values())))


def code_key(*modules: str, extra_files: tuple[Path, ...] = (), package_dir: Path = PACKAGE_DIR) -> str:
    """Checksum of the package code behind ``modules`` (see :func:`module_closure`) and of
    ``extra_files``.

    Parameters
    ----------
    *modules : str
        Dotted module names, e.g. ``"landuse.parcels"``.
    extra_files : tuple of Path
        Further source files (e.g. a technology module outside the package).
    package_dir : Path
        Folder of the package's sources (default: this package).

    Returns
    -------
    str
        Short hex key; it changes with the package version or any file's content.
    """
    files = [*module_closure(*modules, package_dir=Path(package_dir)), *extra_files]
    return config_hash(__version__, [(p.name, _file_sha(p, p.stat().st_mtime_ns)) for p in files])


@functools.cache
def _file_sha(path: Path, mtime_ns: int) -> str:
    """A source file's checksum, read once per version of the file."""
    return sha256_file(path)


def files_key(*paths: str | os.PathLike | None) -> str:
    """Checksum of files' contents (a missing path enters by name)."""
    return config_hash([sha256_file(p) if p and Path(p).is_file() else str(p) for p in paths])


@dataclass
class Cache:
    """The stage cache of one output folder: ``<out>/.landuse-cache/``.

    Holds one record per stage (``stages.json``: key, seconds, files) and the stage results
    (GeoParquet and Parquet), written through temporary files.
    """

    folder: Path
    records: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, out: str | os.PathLike) -> Cache:
        """The cache under output folder ``out`` (created on first write)."""
        folder = Path(out) / CACHE_DIRNAME
        path = folder / "stages.json"
        records = {}
        if path.exists():
            try:
                records = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                log.warning("Stage records %s unreadable: every stage reruns.", path)
        return cls(folder, records)

    def path(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)

    def fresh(self, stage: str, key: str, *files: Path) -> bool:
        """Whether ``stage`` ran with ``key`` and its files are all there."""
        record = self.records.get(stage, {})
        return record.get("key") == key and all(Path(p).exists() for p in [*files, *self.files(stage)])

    def files(self, stage: str) -> list[Path]:
        """The files recorded for ``stage`` (relative to the cache, so the folder may move)."""
        return [self.folder / p for p in self.records.get(stage, {}).get("files", [])]

    def done(self, stage: str, key: str, seconds: float, files: list[Path] = ()) -> None:
        """Record that ``stage`` produced ``files`` under ``key``."""
        self.records[stage] = {"key": key, "seconds": round(seconds, 1), "landuse_version": __version__,
                               "files": [Path(os.path.relpath(p, self.folder)).as_posix() for p in files]}
        write_json(self.records, self.path("stages.json"))

    def write_frames(self, stage: str, frames: dict[str, pd.DataFrame]) -> list[Path]:
        """Write frames (GeoDataFrames as GeoParquet) to ``<stage>/<name>.parquet``; the stage's
        previous files are replaced."""
        folder = self.path(stage)
        if self.records.pop(stage, None) is not None:  # never trust the old record while its files change
            write_json(self.records, self.path("stages.json"))
        if folder.is_dir():
            shutil.rmtree(folder)
        make_dir(folder)
        paths = []
        for name, frame in frames.items():
            path = folder / f"{name}.parquet"
            with atomic_path(path) as tmp:
                frame.to_parquet(tmp)
            paths.append(path)
        return paths

    def read_frames(self, stage: str) -> dict[str, pd.DataFrame]:
        """Read back what :meth:`write_frames` wrote (in the order written)."""
        return {path.stem: read_frame(path) for path in self.files(stage)}


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """A frame written by :meth:`Cache.write_frames`: a GeoDataFrame from GeoParquet (WKB), else a
    plain table; what :func:`geopandas.read_parquet` gives, with each distinct CRS parsed once.

    geopandas parses a file's CRS (PROJJSON) anew for every file, about 0.07 s each, and frames
    with CRS objects of their own are compared CRS by CRS when they are concatenated: the merge
    of a district's 32 parts spent 38 of its 148 CPU-seconds there.
    """
    table = pq.read_table(path)
    geo = json.loads((table.schema.metadata or {}).get(b"geo", b"null") or "null")
    if not geo:
        return table.to_pandas()
    columns = geo.get("columns") or {}
    if any(spec.get("encoding", "WKB").upper() != "WKB" for spec in columns.values()):
        return gpd.read_parquet(path)  # GeoArrow encodings: geopandas' own path
    frame = table.to_pandas()
    for name, spec in columns.items():
        # GeoParquet: a missing "crs" is OGC:CRS84; null is an unknown CRS
        crs = _crs(json.dumps(spec["crs"], sort_keys=True)) if spec.get("crs") is not None else \
            (None if "crs" in spec else _crs('"OGC:CRS84"'))
        frame[name] = gpd.GeoSeries.from_wkb(frame[name].to_numpy(), index=frame.index, crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geo["primary_column"])


@functools.lru_cache(maxsize=32)
def _crs(projjson: str):
    from pyproj import CRS

    return CRS.from_user_input(json.loads(projjson))


__all__ = ["Cache", "code_key", "files_key", "module_closure", "read_frame", "CACHE_DIRNAME"]
