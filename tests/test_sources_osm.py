"""OSM tag → canonical class mapping, through osmnx's XML parser (offline)."""

import geopandas as gpd
import pandas as pd
import pytest
from conftest import X0, Y0, tiny_features, write_osm_xml
from shapely.geometry import LineString, box

from landuse.sources import osm


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    path = write_osm_xml(tmp_path_factory.mktemp("osm") / "f.osm", tiny_features())
    return {k: v.to_crs("EPSG:25833") for k, v in osm.read_osm_xml(path).items()}


def test_landcover_classes_from_tags(layers):
    lc = layers["landcover"]
    assert sorted(zip(lc["subclass"], lc["class"], strict=True)) == [
        ("farmland", "arable"), ("forest", "forest"), ("industrial", "industrial"),
        ("meadow", "grassland"), ("pond", "water"), ("residential", "residential"),
        ("wood", "forest"),
    ]
    farmland = lc[lc["subclass"] == "farmland"].geometry.iloc[0]
    # 1800 m × 800 m field, areas measured in EPSG:25833 after the lon/lat round trip
    assert farmland.area == pytest.approx(1800 * 800, rel=1e-4)


def test_roads_railways_waterways(layers):
    roads = layers["roads"]
    assert dict(zip(roads["kind"], roads["class"], strict=True)) == {"motorway": "motorway", "track": "minor"}
    assert "footway" not in set(roads["kind"])  # paths are not roads for siting rules
    motorway = roads[roads["kind"] == "motorway"].geometry.iloc[0]
    assert motorway.length == pytest.approx(4000, abs=0.5)
    assert layers["railways"]["main"].tolist() == [True]
    assert layers["waterways"]["class"].tolist() == ["stream"]
    assert layers["waterways"].geometry.iloc[0].length == pytest.approx(1400, abs=0.5)


def test_protected_power_plants_aerodromes(layers):
    pa = layers["protected_areas"].set_index("name")
    assert pa.loc["Auwald", "type"] == "NSG"
    assert pa.loc["Landschaft Süd", "type"] == "LSG"  # umlaut kept
    assert layers["power_lines"]["voltage_v"].tolist() == [110000.0]
    plants = layers["existing_plants"]
    assert plants["technology"].tolist() == ["wind"]
    assert plants["capacity_mw"].tolist() == [pytest.approx(3.2)]
    assert layers["aerodromes"]["class"].tolist() == ["navigationaid"]
    b = layers["buildings"]
    assert sorted(b["height_m"].fillna(-1).tolist()) == [-1, -1, 6.0]  # 2 levels × 3 m


def test_protected_area_type_from_titles():
    s = pd.Series
    out = osm.protected_area_type(
        s(["protected_area"] * 4 + ["national_park"]), s(["", "", "", "nature_reserve", ""]),
        protect_class=s(["", "", "97", "", ""]),
        title=s(["Vogelschutzgebiet", "FFH-Gebiet", "", "", ""]),
    )
    assert out.tolist() == ["SPA", "FFH", "FFH", "NSG", "NP"]


def test_power_parsing():
    out = osm._parse_power_mw(pd.Series(["5 MW", "750 kW", "3,2 MWp", "yes", ""]))
    assert out[:3].tolist() == pytest.approx([5.0, 0.75, 3.2])
    assert out[3:].isna().all()


def test_fetch_online_goes_through_the_same_mapping(monkeypatch, tmp_path):
    """features_from_polygon (online) and features_from_xml (file) share classify_osm."""
    import osmnx as ox

    path = write_osm_xml(tmp_path / "f.osm", [
        (box(X0, Y0, X0 + 100, Y0 + 100), {"landuse": "farmland"}),
        (LineString([(X0, Y0), (X0 + 100, Y0)]), {"highway": "primary"}),
    ])
    seen = {}

    def fake(polygon, tags):
        seen["tags"] = tags
        return ox.features_from_xml(path, tags=tags)

    monkeypatch.setattr(ox, "features_from_polygon", fake)
    out = osm.fetch_osm(box(12, 51, 13, 52))
    assert seen["tags"] is osm.OSM_TAGS
    assert out["landcover"]["class"].tolist() == ["arable"]
    assert out["roads"]["class"].tolist() == ["trunk_primary"]
    assert isinstance(out["roads"], gpd.GeoDataFrame)


def test_geocoded_boundaries_online(monkeypatch):
    """Boundaries from osmnx's geocoder: one polygon per municipality, AGS from the config."""
    import osmnx as ox
    from conftest import NORD, SUED

    from landuse.config import Municipality, Region
    from landuse.sources.boundaries import geocode_boundaries

    polygons = {"Nordheim": NORD, "Südheim": SUED}
    asked = []

    def fake(query):
        asked.append(query)
        geom = gpd.GeoSeries([polygons[query["city"]]], crs="EPSG:25833").to_crs("EPSG:4326")
        return gpd.GeoDataFrame({"display_name": [query["city"]]}, geometry=geom.values, crs="EPSG:4326")

    monkeypatch.setattr(ox, "geocode_to_gdf", fake)
    region = Region("t", "t", [Municipality("Nordheim", "14999001", "N"), Municipality("Südheim", None, "S")],
                    0, {}, {}, None, state="Saxony")
    b = geocode_boundaries(region)
    assert asked[0] == {"city": "Nordheim", "country": "Germany", "state": "Saxony"}
    assert b.crs.to_epsg() == 25833 and list(b["ags"]) == ["14999001", ""]
    assert b.geometry.area.tolist() == pytest.approx([NORD.area, SUED.area], rel=1e-6)


def test_osm_file_through_gdal_matches_osmnx(tmp_path, layers):
    """A Geofabrik-style extract read by GDAL's OSM driver gives the same canonical layers."""
    from landuse.sources.osmfile import read_osm_file

    path = write_osm_xml(tmp_path / "extract.osm", tiny_features())
    gdal = {k: v.to_crs("EPSG:25833") for k, v in read_osm_file(path).items()}
    for name in ("landcover", "roads", "railways", "waterways", "water_bodies", "protected_areas", "power_lines",
                 "existing_plants", "aerodromes", "buildings"):
        assert len(gdal[name]) == len(layers[name]), name
    assert sorted(gdal["landcover"]["class"]) == sorted(layers["landcover"]["class"])
    assert sorted(gdal["protected_areas"]["type"]) == ["LSG", "NSG"]
    assert gdal["power_lines"]["voltage_v"].tolist() == [110000.0]
    assert gdal["existing_plants"]["capacity_mw"].tolist() == [pytest.approx(3.2)]
    # GDAL's OSM driver stores coordinates to 1e-7° (about 1 cm)
    assert gdal["roads"].geometry.length.sum() == pytest.approx(layers["roads"].geometry.length.sum(), abs=0.1)
