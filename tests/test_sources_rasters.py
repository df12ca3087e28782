"""Rasters reprojected to EPSG:25833: values and footprint kept, missing CRS reported."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from landuse.errors import DataError
from landuse.sources.rasters import open_raster, reproject_raster


def _write(path, data, crs, transform):
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=-9999) as dst:
        dst.write(data.astype("float32"), 1)


def test_reproject_keeps_values_and_area(tmp_path):
    # 4 × 4 cells of 250 m in LCC Europe (EPSG:3034) like the BGR soil rasters; one nodata cell
    data = np.arange(16, dtype=float).reshape(4, 4) * 10
    data[0, 0] = -9999
    src = tmp_path / "soil.tif"
    _write(src, data, "EPSG:3034", from_origin(4_160_000, 2_740_000, 250, 250))
    out = reproject_raster(src, tmp_path / "out.tif")
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 25833
        assert ds.res == (50.0, 50.0)
        arr = ds.read(1)
    valid = np.isfinite(arr)
    # every source value survives and nodata is NaN; a cell's edges move by up to one target
    # cell (50 m of 250 m), so a single cell's 6.25 ha is kept within 20 %, the total within 5 %
    assert set(np.unique(arr[valid])) == set(data[data >= 0].ravel())
    for value in (50.0, 100.0):
        assert (arr == value).sum() * 50 * 50 == pytest.approx(250 * 250, rel=0.2)
    assert valid.sum() * 2500 == pytest.approx(15 * 62_500, rel=0.05)
    da = open_raster(out)
    assert da.rio.crs.to_epsg() == 25833 and da.shape == arr.shape


def test_raster_without_crs(tmp_path):
    src = tmp_path / "nocrs.tif"
    _write(src, np.ones((2, 2)), None, from_origin(340_000, 5_700_000, 100, 100))
    with pytest.raises(DataError, match="nocrs.tif has no CRS. Add 'crs: EPSG:xxxx'"):
        reproject_raster(src, tmp_path / "o.tif")
    out = reproject_raster(src, tmp_path / "o.tif", crs="EPSG:25833")
    with rasterio.open(out) as ds:
        assert np.nansum(ds.read(1)) * ds.res[0] ** 2 == pytest.approx(4 * 100 * 100)


def test_not_a_raster(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    with pytest.raises(DataError, match="bad.tif is not a readable raster"):
        reproject_raster(bad, tmp_path / "o.tif")


def test_a_cell_reads_the_same_in_any_extent(tmp_path):
    # a smooth field in geographic coordinates (like SRTM), resampled bilinearly to 30 m: the cells
    # of a small extent equal those of a larger one (a municipality alone and in its region)
    from rasterio.enums import Resampling

    yy, xx = np.mgrid[0:60, 0:60]
    src = tmp_path / "dem.tif"
    _write(src, 100 + np.sin(xx / 7.0) * 20 + yy * 0.5, "EPSG:4326", from_origin(12.6, 51.45, 1 / 1200, 1 / 1200))
    small = reproject_raster(src, tmp_path / "small.tif", bounds=(334_020, 5_700_030, 335_010, 5_700_990),
                             resolution=30, resampling=Resampling.bilinear)
    large = reproject_raster(src, tmp_path / "large.tif", bounds=(333_000, 5_699_010, 336_000, 5_701_500),
                             resolution=30, resampling=Resampling.bilinear)
    with rasterio.open(small) as a, rasterio.open(large) as b:
        win = rasterio.windows.from_bounds(*a.bounds, transform=b.transform)
        ref = a.read(1)
        part = b.read(1, window=win)
    assert ref.shape == part.shape and np.isfinite(ref).mean() > 0.9
    np.testing.assert_array_equal(ref, part)


@pytest.mark.parametrize("resampling", ["nearest", "bilinear"])
def test_only_the_window_the_target_needs_is_read(tmp_path, monkeypatch, resampling):
    # a "Germany-wide" 400 × 400 raster of 250 m cells in LCC Europe; the target is 3 km × 2 km
    from rasterio.enums import Resampling

    import landuse.sources.rasters as rasters

    yy, xx = np.mgrid[0:400, 0:400]
    src = tmp_path / "wide.tif"
    _write(src, np.cos(xx / 9.0) * 50 + yy, "EPSG:3034", from_origin(4_100_000, 2_800_000, 250, 250))
    bounds = (340_000, 5_700_000, 343_000, 5_702_000)
    windows = []
    real = rasters._source_window

    def spy(*args):
        windows.append(real(*args))
        return windows[-1]

    monkeypatch.setattr(rasters, "_source_window", spy)
    kw = {"bounds": bounds, "resolution": 50, "resampling": Resampling[resampling]}
    part = reproject_raster(src, tmp_path / "part.tif", **kw)
    (window,) = windows
    # the target spans about 14 × 10 source cells; with the margin still under 1 % of the raster
    assert window.width * window.height < 0.01 * 400 * 400
    monkeypatch.setattr(rasters, "_source_window", lambda src, *_: rasterio.windows.Window(0, 0, src.width, src.height))
    whole = reproject_raster(src, tmp_path / "whole.tif", **kw)
    with rasterio.open(part) as a, rasterio.open(whole) as b:
        values = a.read(1)
        assert np.isfinite(values).all() and values.shape == (40, 60)
        np.testing.assert_array_equal(values, b.read(1))  # the same cells, bit for bit


def test_a_target_outside_the_raster_reads_nodata_only(tmp_path):
    src = tmp_path / "small.tif"
    _write(src, np.ones((10, 10)), "EPSG:25833", from_origin(300_000, 5_600_000, 100, 100))
    out = reproject_raster(src, tmp_path / "o.tif", bounds=(400_000, 5_700_000, 401_000, 5_701_000), resolution=100)
    with rasterio.open(out) as ds:
        assert ds.read(1).shape == (10, 10) and np.isnan(ds.read(1)).all()
