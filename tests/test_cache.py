"""Stage keys cover the package code a stage depends on (found from the imports, not listed)."""

import shutil

import pandas as pd
import pytest

from landuse.cache import PACKAGE_DIR, Cache, code_key, module_closure


@pytest.fixture()
def package_copy(tmp_path):
    """A copy of the package's sources to edit (the checkout is never touched)."""
    copy = tmp_path / "landuse"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return copy


def test_closure_of_parcels():
    names = {p.relative_to(PACKAGE_DIR).as_posix() for p in module_closure("landuse.parcels")}
    # imported by parcels.py directly or through its imports, inside functions included
    assert {"parcels.py", "stats.py", "io.py", "layers.py", "geometry.py", "config.py", "__init__.py"} <= names
    assert not {"maps.py", "export.py", "carbon.py", "suitability.py", "pipeline.py"} & names


@pytest.mark.parametrize("module", ["parcels.py", "stats.py", "io.py"])
def test_editing_a_dependency_changes_the_parcels_key(package_copy, module):
    before = code_key("landuse.parcels", package_dir=package_copy)
    with open(package_copy / module, "a", encoding="utf-8") as fh:
        fh.write("\n# a change\n")
    assert code_key("landuse.parcels", package_dir=package_copy) != before


def test_editing_an_unrelated_module_keeps_the_parcels_key(package_copy):
    before = code_key("landuse.parcels", package_dir=package_copy)
    with open(package_copy / "maps.py", "a", encoding="utf-8") as fh:
        fh.write("\n# a change\n")
    assert code_key("landuse.parcels", package_dir=package_copy) == before
    assert code_key("landuse.maps", package_dir=package_copy) != code_key("landuse.maps")


def test_cache_round_trip(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    cache = Cache.open(tmp_path)
    frames = {"areas": gpd.GeoDataFrame({"ha": [1.5]}, geometry=[box(0, 0, 100, 150)], crs="EPSG:25833"),
              "table": pd.DataFrame({"x": [1, 2]}, index=["a", "b"])}
    files = cache.write_frames("stage/default", frames)
    cache.done("stage/default", "k1", 0.1, files)
    again = Cache.open(tmp_path)
    assert again.fresh("stage/default", "k1") and not again.fresh("stage/default", "k2")
    back = again.read_frames("stage/default")
    assert back["areas"].crs.to_epsg() == 25833 and back["areas"].geometry.area.iloc[0] == 15_000
    assert back["table"].loc["b", "x"] == 2
    files[0].unlink()
    assert not Cache.open(tmp_path).fresh("stage/default", "k1")  # a lost file reruns the stage


def test_frames_read_as_geopandas_reads_them_with_one_crs_object_per_crs(tmp_path):
    import json

    import geopandas as gpd
    import pyarrow.parquet as pq
    from geopandas.testing import assert_geodataframe_equal
    from shapely.geometry import Point, box

    from landuse.cache import read_frame

    cache = Cache.open(tmp_path)
    parcels = gpd.GeoDataFrame({"ha": [1.5, 0.25], "name": ["Wurzen", None], "site": [True, False]},
                               geometry=[box(0, 0, 100, 150), box(200, 0, 250, 50)], crs="EPSG:25833",
                               index=pd.Index(["p1", "p2"], name="parcel_id"))
    parcels["centre"] = gpd.GeoSeries([Point(50, 75), Point(225, 25)], index=parcels.index, crs="EPSG:4326")
    turbines = gpd.GeoDataFrame({"mw": [5.6]}, geometry=[Point(10, 10)], crs="EPSG:25833")
    files = cache.write_frames("s", {"parcels": parcels, "turbines": turbines, "table": pd.DataFrame({"x": [1]})})
    cache.done("s", "k", 0.1, files)
    back = Cache.open(tmp_path).read_frames("s")
    for path in files[:2]:
        assert_geodataframe_equal(back[path.stem], gpd.read_parquet(path), check_crs=True)
    pd.testing.assert_frame_equal(back["table"], pd.read_parquet(files[2]))
    got = back["parcels"]
    assert got.geometry.name == "geometry" and got.index.tolist() == ["p1", "p2"]
    assert got.crs.to_epsg() == 25833 and got["centre"].crs.to_epsg() == 4326
    assert got.geometry.area.tolist() == [15_000, 2_500]
    # frames of one CRS share its object: concatenating them compares no CRS
    assert back["turbines"].crs is got.crs
    # GeoParquet without "crs" means OGC:CRS84; "crs": null an unknown one
    table = pq.read_table(files[1])
    for crs, expected in ((None, None), ("absent", "OGC:CRS84")):
        geo = json.loads(table.schema.metadata[b"geo"])
        if crs == "absent":
            del geo["columns"]["geometry"]["crs"]
        else:
            geo["columns"]["geometry"]["crs"] = None
        path = tmp_path / f"{crs}.parquet"
        pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"geo": json.dumps(geo)}), path)
        frame = read_frame(path)
        assert (frame.crs is None) if expected is None else frame.crs.to_string() == expected
        assert_geodataframe_equal(frame, gpd.read_parquet(path), check_crs=True)
