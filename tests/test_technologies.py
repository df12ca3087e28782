"""The technology registry: built-ins, registration, and a fourth technology defined only under
tests/ (plugins/miscanthus.py + miscanthus.yaml) run through scoring, balance, map and export."""

import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from landuse import technologies
from landuse.errors import ConfigError
from landuse.pipeline import run

PLUGIN = Path(__file__).with_name("plugins") / "miscanthus.py"


def _plugin():
    spec = importlib.util.spec_from_file_location("miscanthus_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Miscanthus()


def test_builtins_in_order():
    assert technologies.names()[:3] == ["wind", "pv", "agroforestry"]
    wind = technologies.get("wind")
    assert wind.result_layer_names == ["wind_eligible", "wind_turbines", "wind_existing_turbines"]
    assert wind.rules_file.name == "wind.yaml" and wind.rules_file.parent.name == "technologies"
    avoided = technologies.total_columns("avoided")
    assert avoided == ["wind_avoided_t_co2e_a", "pv_avoided_t_co2e_a", "coppice_avoided_t_co2e_a"]  # not Agri-PV
    assert technologies.total_columns("sequestered") == ["soil_sequestered_t_co2e_a"]


def test_unknown_and_invalid():
    with pytest.raises(ConfigError, match=r"Unknown technology 'wnd'.*Did you mean 'wind'"):
        technologies.get("wnd")

    class Bad(technologies.Technology):
        name, title, abbreviation, rules_file = "Bad-Name", "Bad", "bd", PLUGIN

    with pytest.raises(ConfigError, match="lower-case identifier"):
        technologies.register(Bad())
    assert "Bad-Name" not in technologies.names()


def test_use_makes_the_registry_exactly_the_list_given():
    """What a spawned process does with its parent's registry: the same technologies, in order."""
    before = technologies.technologies()
    try:
        technologies.use([before[1], before[0]])
        assert technologies.names() == ["pv", "wind"]
        assert technologies.total_columns("avoided") == ["pv_avoided_t_co2e_a", "wind_avoided_t_co2e_a"]
    finally:
        technologies.use(before)
    assert technologies.names()[:3] == ["wind", "pv", "agroforestry"]


@pytest.fixture(scope="module")
def fourth(tiny_region, tmp_path_factory):
    cfg, data = tiny_region
    base = tmp_path_factory.mktemp("fourth")
    with technologies.registered(_plugin()):
        res = run(cfg, data=data, layers_dir=base / "layers", out=base / "out")
    assert "miscanthus" not in technologies.names()  # unregistered after the block
    return res, base / "out"


def test_fourth_technology_scored(fourth):
    res, _ = fourth
    parcels = res["suitability"].data["parcels"]
    scored = parcels[parcels["miscanthus_eligible_ha"] > 0]
    assert len(scored) > 0
    assert set(scored["class"]) == {"arable"}  # its eligible classes, not PV's arable + grassland
    assert scored["miscanthus_score"].between(0, 100).all()
    assert {"miscanthus_sub_water_capacity", "miscanthus_excl_settlement_share", "miscanthus_field_ha"} <= set(parcels)
    # its own layer: fields of at least 1 ha, their area as the table says
    fields = res["suitability"].data["miscanthus_fields"]
    assert (fields["eligible_ha"] >= 1).all()
    assert fields.geometry.area.sum() / 1e4 == pytest.approx(parcels["miscanthus_field_ha"].sum(), rel=1e-6)
    assert res["suitability"].summary.loc["Region", "miscanthus_field_ha"] == pytest.approx(
        round(parcels["miscanthus_field_ha"].sum(), 1), abs=0.11)


def test_fourth_technology_balance(fourth):
    res, _ = fourth
    summary = res["balance"].summary
    full = summary[(summary["level"] == "region") & (summary["share_realised"] == 1.0)]
    region = full[full["tier"] == "technical"].iloc[0]
    ha = res["suitability"].data["parcels"]["miscanthus_field_ha"].sum()
    assert region["miscanthus_t_dm_a"] == pytest.approx(15 * ha)  # central yield 15 t DM/ha/a
    # its declared range enters low/high: 10 and 20 t DM/ha/a
    assert region["miscanthus_t_dm_a_low"] == pytest.approx(10 * ha)
    assert region["miscanthus_t_dm_a_high"] == pytest.approx(20 * ha)
    others = region[["wind_avoided_t_co2e_a", "pv_avoided_t_co2e_a", "coppice_avoided_t_co2e_a"]].sum()
    assert region["miscanthus_avoided_t_co2e_a"] > 0
    assert region["avoided_t_co2e_a"] == pytest.approx(others + region["miscanthus_avoided_t_co2e_a"])
    # it takes part in the allocation: its parts in the layer, never more than the technical tier
    realistic = full[full["tier"] == "realistic"].iloc[0]
    assert 0 < realistic["miscanthus_ha"] <= region["miscanthus_ha"] + 1e-9
    parts = res["balance"].data[2]
    assert parts.loc[parts["use"] == "miscanthus", "ha"].sum() == pytest.approx(realistic["miscanthus_ha"])


def test_fourth_technology_map_and_export(fourth):
    _, out = fourth
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Miscanthus: score" in page and "Miscanthus: fields (ha)" in page
    assert (out / "map_miscanthus.html").is_file()
    layers = [name for name, _ in pyogrio.list_layers(out / "landuse.gpkg")]
    assert {"miscanthus_eligible", "miscanthus_fields"} <= set(layers)
    fields = gpd.read_file(out / "landuse.gpkg", layer="miscanthus_fields")
    assert fields.crs.to_epsg() == 25833 and len(fields) > 0
    assert (out / "shapefiles" / "miscanthus_fields.shp").is_file()
    names = pd.read_csv(out / "shapefiles" / "fields.csv")
    row = names[(names["layer"] == "parcels") & (names["long_name"] == "miscanthus_score")].iloc[0]
    assert row["short_name"] == "mc_score" and row["unit"] == "0-100"  # technology prefix + measure
    field_ha = names[(names["layer"] == "parcels") & (names["long_name"] == "miscanthus_field_ha")].iloc[0]
    assert field_ha["unit"] == "ha" and len(field_ha["short_name"]) <= 10
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert "miscanthus_avoided_t_co2e_a" in summary.columns
