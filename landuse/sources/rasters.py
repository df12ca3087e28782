"""Raster inputs (soil, climate, DEM, wind speed, irradiance) in the working CRS.

Rasters are reprojected once into the layer store with nearest-neighbour resampling onto a
grid finer than the source (so each source cell keeps its value and area), in EPSG:25833.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from pyproj.exceptions import ProjError
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rasterio.windows import Window, from_bounds

from landuse.config import WORKING_CRS
from landuse.errors import DataError
from landuse.geometry import transformer
from landuse.io import make_dir

log = logging.getLogger(__name__)


def raster_crs(src: rasterio.io.DatasetReader, path: Path, crs: str | None = None) -> CRS:
    """The raster's CRS, or ``crs`` when the file has none.

    Parameters
    ----------
    src : rasterio DatasetReader
        The open raster.
    path : Path
        Its file, named in the error.
    crs : str, optional
        CRS to assume when the file has none.

    Returns
    -------
    rasterio.crs.CRS

    Raises
    ------
    DataError
        The file has no CRS and ``crs`` is not given.
    """
    if src.crs is not None:
        return src.crs
    if crs is not None:
        return CRS.from_user_input(crs)
    raise DataError(
        f"Raster {path} has no CRS. Add 'crs: EPSG:xxxx' to its entry under sources.rasters "
        "in the region config."
    )


def resample_exact(data: np.ndarray, src_transform, src_crs, dst_transform, dst_crs, shape: tuple[int, int], *,
                   order: int = 0, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Each destination cell's value at its centre, transformed exactly to the source
    (nearest: ``order`` 0; bilinear: 1).

    GDAL's warper approximates the transformation over each chunk of the destination, so a cell
    can read differently in a larger or smaller extent; here a cell's value depends only on the
    cell, and a municipality reads the same values in every region it is part of.

    Parameters
    ----------
    data : ndarray
        Source band (float, NaN for nodata).
    src_transform, dst_transform : Affine
    src_crs, dst_crs : CRS
    shape : (int, int)
        Destination rows and columns.
    order : int
        0 nearest, 1 bilinear (NaN spreads to the cells that touch it).
    origin : (int, int)
        Row and column of the raster where ``data`` starts (a window of it); ``src_transform``
        is the whole raster's. Positions are computed in the whole raster and the integer
        offsets subtracted (exact), so a cell reads the same whatever window holds it.

    Returns
    -------
    ndarray of float32
    """
    from scipy.ndimage import map_coordinates

    rows, cols = shape
    x = dst_transform.c + (np.arange(cols) + 0.5) * dst_transform.a
    y = dst_transform.f + (np.arange(rows) + 0.5) * dst_transform.e
    out = np.full(shape, np.nan, dtype=np.float32)
    to_src = transformer(dst_crs, src_crs)
    inverse = ~src_transform
    # a ring of nodata around the source: points in the outer half of its edge cells stay in them
    padded = np.pad(np.asarray(data, dtype=np.float32), 1, constant_values=np.nan)
    for r0 in range(0, rows, 512):  # bands of rows: bounded memory for large extents
        xx, yy = np.meshgrid(x, y[r0:r0 + 512])
        sx, sy = to_src.transform(xx, yy)
        col, row = inverse * (sx, sy)
        col, row = col - origin[1], row - origin[0]
        # map_coordinates samples at index positions: cell centres at col - 0.5, + 1 for the ring
        out[r0:r0 + 512] = map_coordinates(padded, [row + 0.5, col + 0.5], order=order, mode="constant",
                                           cval=np.nan, prefilter=False)
    return out


def _unreadable(path: Path, exc: Exception) -> DataError:
    return DataError(f"Raster {path} is not a readable raster file (its data cannot be read: "
                     f"{str(exc).splitlines()[0]}); a truncated or half-copied file reads like this.")


#: Source cells read beyond the target's extent on each side (bilinear needs one; the rest is
#: for the curvature of the target's edges in the source's CRS between the densified points).
WINDOW_MARGIN_CELLS = 3


def _source_window(src, src_crs, dst_crs, bounds: tuple[float, float, float, float]):
    """The window of ``src`` that holds every cell the target ``bounds`` (in ``dst_crs``) read.

    A municipality's partition reads the few thousand cells it needs of a Germany-wide raster,
    not all of it (Wurzen, its seven rasters: 0.60 s to 0.26 s, the soil rasters 4× faster, the
    same cells; ``benchmarks/bench_rasters.py``); every partition of all of Saxony pays this.
    """
    whole = Window(0, 0, src.width, src.height)
    try:
        inner = from_bounds(*transformer(dst_crs, src_crs).transform_bounds(*bounds, densify_pts=21),
                            transform=src.transform)
    except (ValueError, rasterio.errors.RasterioError, ProjError):
        return whole
    m = WINDOW_MARGIN_CELLS
    col0, row0 = math.floor(inner.col_off) - m, math.floor(inner.row_off) - m
    col1, row1 = math.ceil(inner.col_off + inner.width) + m, math.ceil(inner.row_off + inner.height) + m
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, src.width), min(row1, src.height)
    if col1 <= col0 or row1 <= row0:  # the target lies outside the raster: one cell, all of it NaN there
        return Window(0, 0, 1, 1)
    return Window(col0, row0, col1 - col0, row1 - row0)


def reproject_raster(
    src_path: str | Path,
    dst_path: str | Path,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: float | None = None,
    crs: str | None = None,
    resampling: Resampling = Resampling.nearest,
) -> Path:
    """Reproject a raster to EPSG:25833, optionally clipped to ``bounds`` (EPSG:25833).

    Parameters
    ----------
    src_path, dst_path : path-like
    bounds : tuple, optional
        Target extent in EPSG:25833.
    resolution : float, optional
        Target cell size (m). Default: a fifth of the source cell size (at least 10 m), so
        nearest-neighbour resampling keeps each source cell's footprint to within a fifth of
        a cell.
    crs : str, optional
        CRS to assume when the file has none.

    Returns
    -------
    Path
        ``dst_path``, a float32 GeoTIFF with nodata NaN.

    Raises
    ------
    DataError
        The source is missing, not a readable raster, or has no CRS and ``crs`` is not given.
    LanduseError
        The folder of ``dst_path`` cannot be created.
    """
    src_path, dst_path = Path(src_path), Path(dst_path)
    if not src_path.exists():
        raise DataError(f"Raster {src_path} not found.")
    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"Raster {src_path} is not a readable raster file ({exc}).") from exc
    with src:
        try:  # a truncated file opens but fails on its data: say so before blaming its CRS
            src.read(1, window=Window(0, 0, min(src.width, 1), min(src.height, 1)))
        except rasterio.errors.RasterioIOError as exc:
            raise _unreadable(src_path, exc) from None
        src_crs = raster_crs(src, src_path, crs)
        dst_crs = CRS.from_user_input(WORKING_CRS)
        # the whole raster's footprint in EPSG:25833, where it is needed (GDAL samples the edges of
        # the whole raster: 40 ms per Germany-wide raster, for each raster of each partition)
        if bounds is None or (resolution is None and not src_crs.is_projected):
            transform, width, height = calculate_default_transform(
                src_crs, dst_crs, src.width, src.height, *src.bounds
            )
        if resolution is None:
            cell = src.res[0] if src_crs.is_projected else abs(transform.a)
            resolution = max(10.0, cell / 5.0)
        if bounds is None:
            left, top = transform.c, transform.f
            right, bottom = left + width * transform.a, top + height * transform.e
            bounds = (left, bottom, right, top)
        left, bottom, right, top = bounds
        left = math.floor(left / resolution) * resolution
        bottom = math.floor(bottom / resolution) * resolution
        right = math.ceil(right / resolution) * resolution
        top = math.ceil(top / resolution) * resolution
        width = int(round((right - left) / resolution))
        height = int(round((top - bottom) / resolution))
        dst_transform = rasterio.transform.from_origin(left, top, resolution, resolution)
        window = _source_window(src, src_crs, dst_crs, (left, bottom, right, top))
        try:
            src_data = src.read(1, window=window, masked=True).astype(np.float32).filled(np.nan)
        except rasterio.errors.RasterioIOError as exc:
            raise _unreadable(src_path, exc) from None
        src_transform = src.window_transform(window)
        data = np.full((height, width), np.nan, dtype=np.float32)
        if resampling in (Resampling.nearest, Resampling.bilinear):
            data = resample_exact(src_data, src.transform, src_crs, dst_transform, dst_crs, (height, width),
                                  order=0 if resampling == Resampling.nearest else 1,
                                  origin=(int(window.row_off), int(window.col_off)))
        else:
            reproject(
                source=src_data, destination=data,
                src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
                dst_transform=dst_transform, dst_crs=dst_crs, dst_nodata=np.nan,
                resampling=resampling,
            )
        profile = {
            "driver": "GTiff", "height": height, "width": width, "count": 1,
            "dtype": "float32", "crs": dst_crs, "transform": dst_transform, "nodata": np.nan,
            "compress": "deflate",
        }
    make_dir(dst_path.parent, option="--layers-dir")
    tmp = dst_path.with_name(f".{dst_path.name}.tmp")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    tmp.replace(dst_path)
    covered = float(np.isfinite(data).mean()) if data.size else 0.0
    log.info("Reprojected %s → %s (%d×%d, %.0f m, %.0f%% with data)", src_path.name,
             dst_path.name, width, height, resolution, covered * 100)
    return dst_path


def open_raster(path: str | Path) -> xr.DataArray:
    """Open a raster as an xarray DataArray (band 1) with its CRS, via rioxarray."""
    import rioxarray  # noqa: F401 - registers the .rio accessor

    da = xr.open_dataarray(path, engine="rasterio").squeeze("band", drop=True)
    return da

