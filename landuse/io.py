"""Reading vector files with clear errors, and writing outputs atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from landuse.errors import DataError, LanduseError

log = logging.getLogger(__name__)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes.

    Parameters
    ----------
    path : path-like
    chunk : int
        Bytes read at a time.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_vector(
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    crs: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    columns: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file and check its CRS.

    Parameters
    ----------
    path : path-like
        Any format GDAL reads (GeoPackage, Shapefile, GeoJSON, …).
    layer : str, optional
        Layer name for multi-layer files.
    crs : str, optional
        CRS to assign when the file has none (the ``crs:`` key in a source config). A file
        that has a CRS keeps it.
    bbox, columns
        Passed to :func:`pyogrio.read_dataframe`.

    Returns
    -------
    GeoDataFrame
        In the file's CRS (or ``crs``).

    Raises
    ------
    DataError
        The file does not exist, is not a GIS file, lacks the layer, or has no CRS and none
        was given.
    """
    path = Path(path)
    where = f"{path}" + (f" (layer '{layer}')" if layer else "")
    if not path.exists():
        raise DataError(f"{where}: file not found.")
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=bbox, columns=columns)
    except pyogrio.errors.DataLayerError as exc:
        try:
            names = [name for name, _ in pyogrio.list_layers(path)]
        except Exception:  # noqa: BLE001 - only used for the hint
            names = []
        raise DataError(f"{where}: layer not found. Layers in the file: {names}.") from exc
    except pyogrio.errors.DataSourceError as exc:
        raise DataError(
            f"{where}: not a readable GIS file ({exc}). Give a GeoPackage, Shapefile or GeoJSON."
        ) from exc
    if gdf.crs is None:
        if crs is None:
            raise DataError(
                f"{where} has no CRS. Add 'crs: EPSG:xxxx' to its source entry in the region "
                "config (or fix the file's .prj)."
            )
        gdf = gdf.set_crs(crs)
    return gdf


def repair_geometries(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Drop empty geometries and repair invalid ones with ``make_valid``, logging counts.

    Repaired geometries keep only parts of the layer's main dimension (a polygon layer
    does not gain stray lines from a repaired bow-tie).

    Parameters
    ----------
    gdf : GeoDataFrame
    name : str
        Layer or file name for the log messages.

    Returns
    -------
    GeoDataFrame
        The frame without empty geometries; ``attrs["repaired_geometries"]`` holds the number
        repaired, if any.
    """
    geom = gdf.geometry.values
    empty = shapely.is_missing(geom) | shapely.is_empty(geom)
    if empty.any():
        log.warning("%s: dropped %d empty geometries", name, int(empty.sum()))
        gdf = gdf[~empty]
        geom = gdf.geometry.values
    invalid = ~shapely.is_valid(geom)
    if invalid.any():
        n = int(invalid.sum())
        fixed = shapely.make_valid(geom[invalid])
        dim = shapely.get_dimensions(geom[invalid])
        fixed = _keep_dimension(fixed, dim)
        gdf = gdf.copy()
        gdf.loc[gdf.index[invalid], gdf.geometry.name] = fixed
        log.warning("%s: repaired %d invalid geometries with make_valid", name, n)
        gdf.attrs["repaired_geometries"] = n
    return gdf


def _keep_dimension(geoms, dims):
    out = []
    for g, d in zip(geoms, dims, strict=True):
        if g.geom_type == "GeometryCollection":
            parts = [p for p in g.geoms if shapely.get_dimensions(p) == d]
            g = shapely.union_all(parts) if parts else shapely.Polygon()
        out.append(g)
    return out


def make_dir(folder: str | os.PathLike, *, option: str = "--out") -> Path:
    """Create a folder (and its parents).

    Parameters
    ----------
    folder : path-like
    option : str
        Command-line option that chooses the folder, named in the error.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    LanduseError
        The folder cannot be created.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LanduseError(f"Cannot write to {folder}: {exc.strerror}. Choose another {option}.") from exc
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, option: str = "--out") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends.

    If the block raises, the temporary file is removed and ``path`` stays as it was.

    Parameters
    ----------
    path : path-like
        Final path; its folder is created.
    option : str
        Command-line option that chooses the folder, named in the error.

    Yields
    ------
    Path
        Temporary path in the same folder (not yet created).

    Raises
    ------
    LanduseError
        The folder cannot be created or written.
    """
    path = Path(path)
    make_dir(path.parent, option=option)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise LanduseError(f"Cannot write to {path.parent}: {exc.strerror}. Choose another {option}.") from exc
    os.close(fd)
    os.unlink(tmp)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Write several layers to one GeoPackage through a temporary file.

    An existing file at ``path`` is replaced only once every layer is written.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layer name → features.
    path : path-like
    option : str
        Command-line option that chooses the folder, named in the error.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LanduseError
        The folder cannot be created or written.
    """
    path = Path(path)
    with atomic_path(path, option=option) as tmp:
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG")
    return path


def write_json(data: Any, path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Write JSON (indented, UTF-8) through a temporary file.

    Parameters
    ----------
    data : Any
        JSON-serialisable; other values are written with ``str``.
    path : path-like
    option : str
        Command-line option that chooses the folder, named in the error.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LanduseError
        The folder cannot be created or written.
    """
    path = Path(path)
    with atomic_path(path, option=option) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV (UTF-8, with its index) through a temporary file.

    Parameters
    ----------
    table : DataFrame
    path : path-like

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LanduseError
        The folder cannot be created or written.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, encoding="utf-8")
    return path


def config_hash(*objs: Any) -> str:
    """Short SHA-256 over JSON-serialisable objects (for stage cache keys)."""
    return hashlib.sha256(json.dumps(objs, sort_keys=True, default=str).encode()).hexdigest()[:16]
