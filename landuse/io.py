"""Reading vector files with clear errors, and writing outputs atomically."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from landuse.errors import DataError, LanduseError
from landuse.geometry import map_chunks

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
    stamp = file_stamp(path)
    if stamp is None or stamp[1] < _REMEMBERED_FROM:
        return _sha256(path, chunk)
    # a large input (the state's tiles, the rasters) is hashed once per process while its size and
    # modification time stay: a Dask worker fingerprints each of its municipalities' stores with
    # the same 94 MB tile file (0.2 s each)
    key = (os.path.realpath(path), *stamp)
    if key not in _REMEMBERED:
        _REMEMBERED[key] = _sha256(path, chunk)
    return _REMEMBERED[key]


def file_stamp(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(inode, size, modification time in ns) of a file, None where it cannot be read: unchanged
    while the file is."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


#: Files at least this large (bytes) have their checksum remembered (see :func:`sha256_file`).
_REMEMBERED_FROM = 1 << 20
_REMEMBERED: dict[tuple, str] = {}


def _sha256(path: str | os.PathLike, chunk: int) -> str:
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
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file and check its CRS and coordinates.

    Z and M values are dropped (the analysis is 2-D) with a note; coordinates that look like
    degrees in a file whose CRS is in metres are an error (a wrong ``.prj``).

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
    encoding : str, optional
        Text encoding of the attributes (e.g. ``cp1252`` for an old Shapefile without ``.cpg``;
        the ``encoding:`` key of a source entry).

    Returns
    -------
    GeoDataFrame
        In the file's CRS (or ``crs``).

    Raises
    ------
    DataError
        The file does not exist, is not a GIS file, lacks the layer, has no CRS and none
        was given, or its coordinates do not fit its CRS.
    """
    path = Path(path)
    where = f"{path}" + (f" (layer '{layer}')" if layer else "")
    if not path.exists():
        raise DataError(f"{where}: file not found.")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"{where}: unknown encoding {encoding!r}; e.g. cp1252, latin1, UTF-8.") from None
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=bbox, columns=columns, encoding=encoding)
    except pyogrio.errors.DataLayerError as exc:
        try:
            names = [name for name, _ in pyogrio.list_layers(path)]
        except Exception:  # noqa: BLE001 - only used for the hint
            names = []
        raise DataError(f"{where}: layer not found. Layers in the file: {names}.") from exc
    except (pyogrio.errors.DataSourceError, pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{where}: not a readable GIS file ({detail}). Give a GeoPackage, Shapefile or GeoJSON; "
                        "a truncated or half-copied file reads like this too.") from exc
    except UnicodeDecodeError:
        raise DataError(f"{where}: its text is not {encoding or 'UTF-8'}; set 'encoding:' in its source entry "
                        "(e.g. cp1252 for an old Shapefile without .cpg).") from None
    _check_text(gdf, where)
    if gdf.crs is None:
        if crs is None:
            raise DataError(
                f"{where} has no CRS. Add 'crs: EPSG:xxxx' to its source entry in the region "
                "config (or fix the file's .prj)."
            )
        gdf = gdf.set_crs(crs)
    check_coordinates(gdf, where)
    geoms = gdf.geometry.values
    if len(geoms) and (shapely.has_z(geoms).any() or _has_m(geoms)):
        log.warning("%s: Z/M coordinates dropped (the analysis is 2-D).", where)
        gdf = gdf.set_geometry(shapely.force_2d(geoms))
    return gdf


def _check_text(gdf: gpd.GeoDataFrame, where: str) -> None:
    """C1 control characters (U+0080–U+009F) in text: cp1252 bytes read as Latin-1 or UTF-8."""
    for col in gdf.columns:
        if col == gdf.geometry.name or not (pd.api.types.is_object_dtype(gdf[col])
                                            or pd.api.types.is_string_dtype(gdf[col])):
            continue
        text = gdf[col].dropna().astype(str)
        bad = text[text.str.contains("[\x80-\x9f]", regex=True)]
        if len(bad):
            raise DataError(f"{where}: column '{col}' holds control characters ({bad.iloc[0]!r}): the file is "
                            "probably cp1252 without a .cpg; set 'encoding: cp1252' in its source entry.")


def _has_m(geoms) -> bool:
    has_m = getattr(shapely, "has_m", None)  # shapely >= 2.1
    return bool(has_m is not None and has_m(geoms).any())


def check_coordinates(gdf: gpd.GeoDataFrame, where: str) -> None:
    """Coordinates that fit the CRS: degrees in a CRS in metres (a wrong ``.prj``) are an error.

    Raises
    ------
    DataError
        Names the file, its CRS and its coordinate range.
    """
    if gdf.empty or gdf.crs is None or not gdf.crs.is_projected:
        return
    minx, miny, maxx, maxy = gdf.total_bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        raise DataError(f"{where}: its CRS is {gdf.crs.to_string()} (metres) but its coordinates "
                        f"({minx:.3f}, {miny:.3f} … {maxx:.3f}, {maxy:.3f}) look like degrees: fix the file's CRS "
                        "(e.g. EPSG:4326 for longitude/latitude).")
    area = gdf.crs.area_of_use
    if area is None:
        return
    try:
        lon_lat = Transformer.from_crs(gdf.crs, "EPSG:4326", always_xy=True).transform_bounds(minx, miny, maxx, maxy)
    except Exception:  # noqa: BLE001 - coordinates the projection cannot invert are far outside it
        lon_lat = (np.inf, np.inf, np.inf, np.inf)
    # a degree of slack: data may reach a little beyond the zone a projected CRS is defined for
    slack = 1.0
    outside = (not np.all(np.isfinite(lon_lat)) or lon_lat[2] < area.west - slack or lon_lat[0] > area.east + slack
               or lon_lat[3] < area.south - slack or lon_lat[1] > area.north + slack)
    if outside:
        raise DataError(f"{where}: its coordinates ({minx:,.0f}, {miny:,.0f} … {maxx:,.0f}, {maxy:,.0f}) lie outside "
                        f"the area of use of its CRS {gdf.crs.to_string()} ({area.name}: lon {area.west:g}…"
                        f"{area.east:g}, lat {area.south:g}…{area.north:g}): the file's CRS is probably wrong; fix "
                        "its .prj or set 'crs:' in its source entry.")


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
    invalid = ~map_chunks(shapely.is_valid, np.asarray(geom))
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


#: Marks the names of files and folders being written (``.<name>.tmp-<random>``).
TEMP_MARK = ".tmp-"
#: Suffix of a folder's previous version while a new one is swapped in (``.<name>.old``).
OLD_MARK = ".old"


def crash_point(name: str) -> None:
    """End the process at once, like ``kill -9``, when ``$LANDUSE_CRASH_AT`` names this point
    (tests of crash safety; no clean-up code runs)."""
    if os.environ.get("LANDUSE_CRASH_AT") == name:
        os._exit(137)


def swap_folder(new: Path, folder: Path) -> Path:
    """Put a completely written folder ``new`` in the place of ``folder`` (shapefiles, fact sheets).

    Between the two renames only the old version exists, under ``.<name>.old``;
    :func:`clean_temporary` puts it back if the process dies right there.

    Returns
    -------
    Path
        ``folder``.
    """
    backup = folder.with_name(f".{folder.name}{OLD_MARK}")
    shutil.rmtree(backup, ignore_errors=True)
    if folder.exists():
        folder.rename(backup)
    crash_point(f"between-renames:{folder.name}")
    new.rename(folder)
    shutil.rmtree(backup, ignore_errors=True)
    return folder


def clean_temporary(folder: str | os.PathLike) -> list[str]:
    """Tidy an output folder after an interrupted write: remove half-written ``.*.tmp-*`` files
    and folders, and put back a folder's previous version (``.<name>.old``) when the swap was cut
    between its two renames (else drop the old version).

    Returns
    -------
    list of str
        What was done, one line each (also logged).
    """
    folder = Path(folder)
    done = []
    if not folder.is_dir():
        return done
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") and TEMP_MARK in entry.name:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            done.append(f"removed the half-written {entry.name}")
        elif entry.name.startswith(".") and entry.name.endswith(OLD_MARK) and entry.is_dir():
            final = folder / entry.name[1:-len(OLD_MARK)]
            if final.exists():
                shutil.rmtree(entry)
                done.append(f"removed the previous version {entry.name}")
            else:
                entry.rename(final)
                done.append(f"restored {final.name}/ from {entry.name} (the last write was interrupted)")
    for line in done:
        log.warning("%s: %s", folder, line)
    return done


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
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}{TEMP_MARK}", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise LanduseError(f"Cannot write to {path.parent}: {exc.strerror}. Choose another {option}.") from exc
    os.close(fd)
    os.unlink(tmp)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        crash_point(f"before-replace:{path.name}")
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
            # through Arrow: the same GeoPackage content in less time (layer store: 1.95 s to 1.5 s)
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", use_arrow=True)
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
