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
