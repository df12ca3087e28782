"""Official files onto canonical layers (landuse.sources.files): class, name and further columns
with unit factors; the shared MaStR and transmission-line files of the default region."""

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from landuse.errors import ConfigError, DataError
from landuse.layers import conform
from landuse.sources.files import read_file_source

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "leipzig-wurzen"


def _plants(tmp_path, kw=(1800.0, 6000.0)):
    path = tmp_path / "units.gpkg"
    gpd.GeoDataFrame({"gross_kw": list(kw), "hub": [65.0, 160.0], "rotor": [70.0, 160.0]},
                     geometry=[Point(12.4, 51.5), Point(12.5, 51.4)], crs="EPSG:4326").to_file(path)
    return path


def test_fields_with_a_unit_factor(tmp_path):
    path = _plants(tmp_path)
    spec = {"layer": "existing_plants", "path": path.name, "value": "wind",
            "fields": {"capacity_mw": {"column": "gross_kw", "factor": 0.001}, "hub_height_m": "hub",
                       "rotor_diameter_m": "rotor"}}
    layer, gdf = read_file_source(spec, tmp_path)
    out = conform(gdf, layer, "units")
    assert layer == "existing_plants" and out.crs.to_epsg() == 25833
    assert out["capacity_mw"].tolist() == [pytest.approx(1.8), pytest.approx(6.0)]
    assert out["hub_height_m"].tolist() == [65.0, 160.0] and out["rotor_diameter_m"].tolist() == [70.0, 160.0]
    assert (out["technology"] == "wind").all()


def test_field_errors_name_file_column_and_key(tmp_path):
    path = _plants(tmp_path)
    base = {"layer": "existing_plants", "path": path.name, "value": "wind"}
    with pytest.raises(DataError, match=r"column 'kw' \(fields.capacity_mw\) not found; columns: gross_kw, hub"):
        read_file_source({**base, "fields": {"capacity_mw": "kw"}}, tmp_path)
    with pytest.raises(ConfigError, match=r"fields.power_mw: layer existing_plants has no column 'power_mw'"):
        read_file_source({**base, "fields": {"power_mw": "gross_kw"}}, tmp_path)
    text = tmp_path / "text.gpkg"
    gpd.GeoDataFrame({"gross_kw": ["1800", "2 MW"]}, geometry=[Point(12.4, 51.5), Point(12.5, 51.4)],
                     crs="EPSG:4326").to_file(text)
    with pytest.raises(DataError, match=r"holds text where numbers belong, e\.g\. '2 MW' \(1 rows\)"):
        read_file_source({**base, "path": text.name, "fields": {"capacity_mw": "gross_kw"}}, tmp_path)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data not beside the checkout")
def test_the_default_regions_register_and_lines():
    _, units = read_file_source({"layer": "existing_plants", "path": "plants/mastr_wind_units_2022.gpkg",
                                 "source_layer": "wind_units", "value": "wind",
                                 "fields": {"capacity_mw": {"column": "gross_kw", "factor": 0.001},
                                            "hub_height_m": "hub_height_m", "rotor_diameter_m": "rotor_diam_m"}},
                                SHARED)
    assert len(units) == 111 and units["capacity_mw"].sum() == pytest.approx(148, abs=1)  # PROVENANCE.md
    _, lines = read_file_source({"layer": "power_lines", "path": "power/transmission_lines_220_380kv_osm2024.gpkg",
                                 "class_field": "underground", "class_map": {"f": "line", "t": "cable"},
                                 "fields": {"voltage_v": {"column": "voltage", "factor": 1000}}}, SHARED)
    lines = conform(lines, "power_lines", "lines")
    assert len(lines) == 10 and sorted(lines["voltage_v"].unique()) == [220000.0, 380000.0]
    assert (lines["voltage_v"] == 380000).sum() == 6 and lines.geom_type.isin(["LineString",
                                                                             "MultiLineString"]).all()
