"""OpenMapTiles GeoPackage adapter on the real data beside the checkout."""

import pytest

from landuse.sources.omt import data_extent, read_openmaptiles

# a 2 km box around Bennewitz (lon/lat): fields, roads, the Mulde, buildings
BBOX = (12.70, 51.35, 12.73, 51.37)


@pytest.fixture(scope="module")
def omt(real_data):
    return read_openmaptiles(real_data / "osm" / "omt_2021.gpkg",
                             real_data / "osm" / "omt_2021_buildings.gpkg", bbox=BBOX)


def test_classes_are_canonical(omt):
    assert set(omt["landcover"]["class"]) <= {
        "arable", "grassland", "forest", "water", "residential", "industrial", "transport", "other"}
    assert {"arable", "residential", "forest"} <= set(omt["landcover"]["class"])
    assert set(omt["roads"]["class"]) <= {"motorway", "trunk_primary", "secondary", "minor"}
    assert "path" not in set(omt["roads"]["kind"])
    assert set(omt["railways"]["kind"]) <= {"rail", "light_rail", "narrow_gauge", "tram", "subway"}
    assert omt["waterways"]["class"].isin(["river", "stream", "canal", "ditch", "drain"]).all()


def test_subclass_decides_urban_green(omt):
    lc = omt["landcover"]
    parks = lc[lc["subclass"].isin(["park", "allotments", "garden"])]
    assert len(parks) and (parks["class"] == "other").all()
    meadows = lc[lc["subclass"] == "meadow"]
    assert (meadows["class"] == "grassland").all()


def test_buildings_and_crs(omt):
    assert len(omt["buildings"]) > 100
    assert omt["buildings"].crs.to_epsg() == 4326
    assert omt["power_lines"].empty and omt["existing_plants"].empty


def test_extent(real_data):
    minx, miny, maxx, maxy = data_extent(real_data / "osm" / "omt_2021.gpkg")
    assert minx == pytest.approx(12.23, abs=0.01) and maxx == pytest.approx(12.95, abs=0.01)
    assert miny == pytest.approx(51.23, abs=0.01) and maxy == pytest.approx(51.50, abs=0.01)


def test_broken_openmaptiles_geopackage(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from landuse.errors import DataError
    from landuse.sources.omt import data_extent

    no_landcover = tmp_path / "omt.gpkg"
    gpd.GeoDataFrame({"class": ["motorway"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:3857").to_file(
        no_landcover, layer="transportation")
    with pytest.raises(DataError, match=r"omt.gpkg: layer 'landcover' is missing; an OpenMapTiles GeoPackage needs"):
        data_extent(no_landcover)
    truncated = tmp_path / "cut.gpkg"
    truncated.write_bytes(no_landcover.read_bytes()[:2048])
    with pytest.raises(DataError) as err:
        data_extent(truncated)
    assert str(err.value).startswith(f"{truncated}: ") and "\n" not in str(err.value)
