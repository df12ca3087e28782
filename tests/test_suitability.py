"""Suitability engine (landuse.suitability): buffers, exclusions with reasons, scores, rule
validation. Technology-specific steps: test_wind.py (turbine placement), test_pv.py (corridor
bands)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml
from conftest import X0, Y0
from shapely.geometry import Point, box

from landuse.config import WORKING_CRS
from landuse.criteria import load_rule_set, load_rule_sets, max_buffer_m, parse_rule_set
from landuse.errors import ConfigError
from landuse.layers import SCHEMA, LayerSet, conform
from landuse.suitability import assess, criterion_score, score_technology

SRC = {"unit": "m", "source": "test", "status": "EST"}


def _layers(**frames) -> LayerSet:
    layers = {}
    for name in SCHEMA:
        gdf = frames.get(name, gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS))
        layers[name] = conform(gdf, name, "test")
    return LayerSet(layers=layers)


def _wind_rules(buffer=1000):
    return parse_rule_set({
        "technology": "wind", "eligible_classes": ["arable"],
        "turbine": {"rotor_diameter_m": {"value": 160, **SRC}, "rated_power_mw": {"value": 5.56, **SRC, "unit": "MW"}},
        "exclusions": [{"name": "settlement", "layer": "landcover", "where": "`class` == 'residential'",
                        "buffer": buffer, **SRC}],
    })


def _parcels(*geoms, cls="arable"):
    return gpd.GeoDataFrame({"class": cls, "ags": "1", "municipality": "A"}, geometry=list(geoms),
                            crs=WORKING_CRS, index=[f"p{i}" for i in range(len(geoms))])


@pytest.fixture(scope="module")
def tiny_parcels(tiny_layers):
    from landuse.parcels import build_parcels

    return build_parcels(tiny_layers)


def test_house_at_999_and_1001_m():
    village = gpd.GeoDataFrame({"class": ["residential"]}, geometry=[box(0, 0, 100, 100)], crs=WORKING_CRS)
    layers = _layers(landcover=village)
    parcel = _parcels(box(100, -2000, 4000, 2000))
    table, eligible = assess(parcel, layers, _wind_rules())
    towers = shapely.buffer(eligible[0], -80, quad_segs=16)  # where a tower may stand, rotor inside
    assert not shapely.contains_xy(towers, 100 + 999, 50)
    assert shapely.contains_xy(towers, 100 + 1001, 50)
    assert table.loc["p0", "reason"] == "settlement"
    # share excluded: a 920 m half-disc around the village's east edge (+ its 100 m side)
    assert 0 < table.loc["p0", "excl_settlement_share"] < 0.2


def test_buffer_from_outside_the_border():
    # the village lies outside the region (only in the margin): it still excludes
    village = gpd.GeoDataFrame({"class": ["residential"]}, geometry=[box(-600, 0, -500, 100)], crs=WORKING_CRS)
    table, eligible = assess(_parcels(box(0, -1000, 2000, 1000)), _layers(landcover=village), _wind_rules())
    assert table.loc["p0", "excl_settlement_share"] > 0
    # a true circle up to the stated polygon error: chords of 16 segments per quarter circle
    chord_error = 920 * (1 - np.cos(np.pi / 64))
    assert shapely.distance(eligible[0], box(-600, 0, -500, 100)) == pytest.approx(920, abs=chord_error + 0.01)


def test_rule_change_changes_result():
    village = gpd.GeoDataFrame({"class": ["residential"]}, geometry=[box(-600, 0, -500, 100)], crs=WORKING_CRS)
    parcel = _parcels(box(0, -1000, 2000, 1000))
    a, _ = assess(parcel, _layers(landcover=village), _wind_rules(1000))
    b, _ = assess(parcel, _layers(landcover=village), _wind_rules(750))
    assert b.loc["p0", "eligible_ha"] > a.loc["p0", "eligible_ha"]


def test_class_exclusion_has_a_reason():
    table, eligible = assess(_parcels(box(0, 0, 100, 100), cls="forest"), _layers(), _wind_rules())
    assert table.loc["p0", "reason"] == "land_cover_forest" and table.loc["p0", "eligible_ha"] == 0


def test_criterion_curves():
    import pandas as pd

    rules = load_rule_set("pv")
    soil = next(c for c in rules.scores if c.name == "soil_quality")
    out = criterion_score(pd.Series([0, 60, 120, 180, 400, np.nan]), soil)
    assert out.tolist()[:5] == pytest.approx([100, 100, 60, 20, 20]) and np.isnan(out.iloc[5])


def test_default_rule_sets_and_margin():
    rs = load_rule_sets()
    wind = {e.name: e.buffer_m for e in rs["wind"].exclusions}
    assert wind["settlement"] == 1000 - 80  # tower distance minus rotor radius
    assert wind["single_building"] == 2 * 247 - 80
    assert max_buffer_m(rs) == 3000 - 80


@pytest.mark.parametrize("change, message", [
    ({"exclusions": [{"name": "x", "layer": "roads", "buffer": -5, **SRC}]},
     "wind.yaml: exclusions[x].buffer: -5 must be >= 0 (a number of metres >= 0 or an arithmetic expression"),
    ({"exclusions": [{"name": "x", "layer": "roads", "buffer": 5, "unit": "m", "source": "s"}]},
     "wind.yaml: exclusions[x]: 'status' is missing (required)"),
    ({"exclusions": [{"name": "x", "layer": "roads", "buffer": 5, **SRC, "colour": 1}]},
     "wind.yaml: exclusions[x]: unknown key 'colour'; allowed: name, layer, where, buffer, repowering_buffer, "
     "measured_from, unit, low, high, status, source"),
    ({"exclusions": [{"name": "x", "layer": "roadz", "buffer": 5, **SRC}]},
     "wind.yaml: exclusions[x].layer: unknown layer 'roadz'"),
    ({"exclusions": [{"name": "x", "layer": "roads", "buffer": "2 * height", **SRC}]},
     "wind.yaml: exclusions[x].buffer: unknown name 'height' in '2 * height'"),
    ({"scores": [{"name": "s", "attribute": "a", "weight": -1, "curve": [[0, 1]], "source": "s", "status": "EST"}]},
     "wind.yaml: scores[s].weight: -1 must be >= 0"),
    ({"scores": [{"name": "s", "attribute": "a", "weight": 1, "curve": [[5, 1], [0, 2]], "source": "s",
                  "status": "EST"}]},
     "wind.yaml: scores[s].curve[1]: x 0 must be greater than the x 5 before it (curve points go by increasing x)"),
    ({"foo": 1}, "wind.yaml: foo: 1 must be a parameter entry {value, unit, source, status} or a mapping"),
    ({"exclusion": []}, "wind.yaml: unknown key 'exclusion'; did you mean 'exclusions'?"),
])
def test_invalid_rule_files(tmp_path, change, message):
    raw = {"technology": "wind", "eligible_classes": ["arable"], **change}
    path = tmp_path / "wind.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ConfigError) as info:
        load_rule_set("wind", path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert message in text


def test_unknown_layer_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"Did you mean 'roads'\?"):
        parse_rule_set({"technology": "wind", "eligible_classes": ["arable"],
                        "exclusions": [{"name": "x", "layer": "roadz", "buffer": 5, **SRC}]})


def test_where_is_checked_against_the_layer_schema():
    with pytest.raises(ConfigError) as info:
        parse_rule_set({"technology": "wind", "eligible_classes": ["arable"], "exclusions": [
            {"name": "settlement", "layer": "landcover", "where": "clas == 'residential'", "buffer": 5, **SRC}]})
    assert str(info.value).startswith(
        "rule set: exclusions[settlement].where: \"clas == 'residential'\" reads 'clas', which layer landcover lacks. "
        "Did you mean 'class'?")
    # the derived layer building_groups has the columns of buildings and its own
    rules = parse_rule_set({"technology": "wind", "eligible_classes": ["arable"], "exclusions": [
        {"name": "group", "layer": "building_groups", "where": "group_size >= 5", "buffer": 5, **SRC}]})
    assert rules.exclusions[0].where == "group_size >= 5"


def test_point_features_need_a_buffer():
    # a zero buffer on points excludes nothing (they have no area)
    rules = parse_rule_set({"technology": "wind", "eligible_classes": ["arable"], "exclusions": [
        {"name": "plant", "layer": "existing_plants", "buffer": 0, "measured_from": "rotor", **SRC}]})
    plants = gpd.GeoDataFrame({"technology": ["wind"]}, geometry=[Point(50, 50)], crs=WORKING_CRS)
    table, _ = assess(_parcels(box(0, 0, 100, 100)), _layers(existing_plants=plants), rules)
    assert table.loc["p0", "eligible_ha"] == pytest.approx(1.0)


def test_scenario_overrides():
    from landuse.criteria import CRITERIA_DIR

    base = {e.name: e.buffer_m for e in load_rule_set("wind").exclusions}
    s750 = {e.name: e.buffer_m for e in load_rule_set("wind", scenario="wind_750m").exclusions}
    assert base["settlement"] - s750["settlement"] == 250 and base["motorway"] == s750["motorway"]
    assert "forest" not in load_rule_set("wind", scenario="wind_no_forest").eligible_classes
    with pytest.raises(ConfigError) as info:
        load_rule_set("wind", scenario="nope")
    assert str(info.value).startswith(f"{CRITERIA_DIR / 'scenarios.yaml'}: unknown scenario 'nope'")
    assert "wind_750m" in str(info.value) and "\n" not in str(info.value)


def test_every_exclusion_has_its_reason(tiny_layers, tiny_parcels):
    parcels = tiny_parcels
    for tech, rules in load_rule_sets().items():
        table = score_technology(parcels, tiny_layers, rules)["table"]
        lost = table["eligible_ha"] < parcels["area_ha"] - 1e-6
        assert (table.loc[lost, "reason"].str.len() > 0).all(), tech
        kept = table["eligible_ha"] > 0
        assert table.loc[kept, "score"].between(0, 100).all(), tech
        assert table.loc[~kept, "score"].isna().all(), tech


def test_tiny_region_results(tiny_layers, tiny_parcels):
    res = score_technology(tiny_parcels, tiny_layers, load_rule_set("wind"))
    # one sliver stays: north of the settlement's 920 m (y 350 + 920), south of the railway's
    # 167 m (y 1450 - 167), west of where the DVOR's 2920 m circle crosses it (x ≈ 2600 - 2232)
    eligible = res["eligible"]
    assert len(eligible) == 1
    minx, miny, maxx, maxy = eligible.total_bounds - [X0, Y0, X0, Y0]
    assert (minx, miny, maxy) == pytest.approx((100, 1270, 1283), abs=0.05)
    assert maxx == pytest.approx(2600 - np.sqrt(2920**2 - (1283 + 600) ** 2), abs=3)
    assert set(res["table"].loc[eligible.index[0], "reason"].split(";")) == {"settlement", "railway",
                                                                              "navigation_aid"}


def test_rules_on_threads_give_the_single_thread_result(tiny_layers, tiny_parcels, monkeypatch):
    rules = load_rule_set("wind")
    monkeypatch.setenv("LANDUSE_THREADS", "1")
    one_table, one = assess(tiny_parcels, tiny_layers, rules)
    monkeypatch.setenv("LANDUSE_THREADS", "4")
    four_table, four = assess(tiny_parcels, tiny_layers, rules)
    assert shapely.equals_exact(one, four, 0).all()
    assert one_table.equals(four_table)
    assert one_table["eligible_ha"].sum() > 0 and one_table["reason"].str.len().gt(0).any()


def test_assessing_leaves_the_layers_geometries_unprepared():
    # without a buffer a forest alone in its dissolve tile is a piece of its own; preparing the
    # layer's feature itself would let two threads share one prepared GEOS geometry
    rules = parse_rule_set({
        "technology": "wind", "eligible_classes": ["arable"],
        "turbine": {"rotor_diameter_m": {"value": 160, **SRC}, "rated_power_mw": {"value": 5.56, **SRC, "unit": "MW"}},
        "exclusions": [{"name": "forest", "layer": "landcover", "where": "`class` == 'forest'", "buffer": 0, **SRC}],
    })
    forests = gpd.GeoDataFrame({"class": ["forest", "forest"]}, crs=WORKING_CRS,
                               geometry=[box(500, 500, 600, 600), box(5500, 500, 5600, 600)])
    layers = _layers(landcover=forests)
    table, eligible = assess(_parcels(box(450, 450, 550, 550), box(5450, 450, 5550, 550)), layers, rules)
    assert table["excl_forest_share"].tolist() == [0.25, 0.25]
    assert shapely.area(eligible).tolist() == pytest.approx([7500, 7500])
    assert not shapely.is_prepared(layers["landcover"].geometry.values).any()
