"""Wind (landuse.technologies.wind): turbine placement with elliptical spacing, rotor inside
the eligible area, turbines per parcel in the scoring run."""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from landuse.config import WORKING_CRS
from landuse.criteria import load_rule_set, parse_rule_set
from landuse.layers import SCHEMA, LayerSet, conform
from landuse.suitability import score_technology
from landuse.technologies.wind import place_turbines

SRC = {"unit": "m", "source": "test", "status": "EST"}


def _area(*geoms):
    return gpd.GeoDataFrame(geometry=list(geoms), crs=WORKING_CRS,
                            index=pd.Index([f"p{i}" for i in range(len(geoms))], name="parcel_id"))


def test_turbines_spacing_and_rotor_inside():
    area = _area(box(0, 0, 3000, 2000))
    t = place_turbines(area, rotor_diameter_m=160, rated_power_mw=5.56, spacing_along_d=5, spacing_across_d=3,
                       main_wind_direction_deg=225)
    assert len(t) >= 10
    assert t.crs.to_epsg() == 25833 and (t["parcel_id"] == "p0").all() and (t["rated_power_mw"] == 5.56).all()
    pts = np.column_stack([t["x"], t["y"]])
    assert np.allclose(pts, shapely.get_coordinates(t.geometry.values))
    # rotor inside the eligible area
    assert shapely.contains(area.geometry.iloc[0], shapely.buffer(t.geometry.values, 80 - 1e-6)).all()
    # elliptical spacing: in wind coordinates no pair is inside the 5D × 3D ellipse
    u = np.array([np.sin(np.radians(225)), np.cos(np.radians(225))])
    v = np.array([u[1], -u[0]])
    d = pts[:, None, :] - pts[None, :, :]
    q = ((d @ u) / 800) ** 2 + ((d @ v) / 480) ** 2
    np.fill_diagonal(q, np.inf)
    assert q.min() == pytest.approx(1.0)  # neighbours exactly at the minimum spacing
    # deterministic; the defaults are 5 D along, 3 D across and wind from 225°
    again = place_turbines(area, rotor_diameter_m=160, rated_power_mw=5.56)
    assert list(again["turbine_id"]) == list(t["turbine_id"])
    assert np.array_equal(again[["x", "y"]].to_numpy(), t[["x", "y"]].to_numpy())


def test_place_turbines_takes_keywords_only():
    with pytest.raises(TypeError):
        place_turbines(_area(box(0, 0, 3000, 2000)), 160, 5.56)  # the old positional call


def test_too_narrow_or_empty_gives_no_turbines():
    # 150 m wide: no tower stands 80 m from both edges
    assert len(place_turbines(_area(box(0, 0, 3000, 150)), rotor_diameter_m=160, rated_power_mw=5.56)) == 0
    empty = place_turbines(_area(box(0, 0, 3000, 150)).iloc[:0], rotor_diameter_m=160, rated_power_mw=5.56)
    assert len(empty) == 0 and {"turbine_id", "parcel_id", "x", "y", "rated_power_mw"} <= set(empty.columns)


def test_spacing_holds_across_neighbouring_patches():
    # two fields 20 m apart (a road between them): turbines keep the spacing across the road
    area = _area(box(0, 0, 1500, 2000), box(1520, 0, 3000, 2000))
    t = place_turbines(area, rotor_diameter_m=160, rated_power_mw=5.56)
    assert set(t["parcel_id"]) == {"p0", "p1"}
    pts = np.column_stack([t["x"], t["y"]])
    u = np.array([np.sin(np.radians(225)), np.cos(np.radians(225))])
    v = np.array([u[1], -u[0]])
    d = pts[:, None, :] - pts[None, :, :]
    q = ((d @ u) / 800) ** 2 + ((d @ v) / 480) ** 2
    np.fill_diagonal(q, np.inf)
    assert q.min() >= 1 - 1e-9
    for pid, geom in zip(area.index, area.geometry, strict=True):  # each rotor inside its own field
        mine = t.geometry[t["parcel_id"] == pid].values
        assert shapely.contains(geom, shapely.buffer(mine, 80 - 1e-6)).all()


def test_turbines_per_parcel_in_the_scoring_run():
    layers = LayerSet(layers={name: conform(gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS), name, "test")
                              for name in SCHEMA})
    rules = parse_rule_set({
        "technology": "wind", "eligible_classes": ["arable"],
        "turbine": {"rotor_diameter_m": {"value": 160, **SRC},
                    "rated_power_mw": {"value": 5.56, **SRC, "unit": "MW"}},
    })
    parcels = gpd.GeoDataFrame({"class": ["arable", "forest"], "ags": "1", "municipality": "A"},
                               geometry=[box(0, 0, 3000, 2000), box(4000, 0, 7000, 2000)], crs=WORKING_CRS,
                               index=["p0", "p1"])
    res = score_technology(parcels, layers, rules)
    turbines, table = res["turbines"], res["table"]
    assert len(turbines) >= 10 and set(turbines["parcel_id"]) == {"p0"}
    assert table.loc["p0", "turbines"] == len(turbines) and table.loc["p1", "turbines"] == 0
    assert (turbines["rated_power_mw"] == 5.56).all()
    expected = place_turbines(res["eligible"][["geometry"]], rotor_diameter_m=160, rated_power_mw=5.56)
    assert np.array_equal(turbines[["x", "y"]].to_numpy(), expected[["x", "y"]].to_numpy())


def test_tiny_region_sliver_takes_no_turbine(tiny_layers):
    from landuse.parcels import build_parcels

    res = score_technology(build_parcels(tiny_layers), tiny_layers, load_rule_set("wind"))
    # the one eligible sliver (y 1270…1283) is 13 m wide: too narrow for a 160 m rotor
    assert len(res["eligible"]) == 1
    assert res["eligible"].total_bounds[3] - res["eligible"].total_bounds[1] == pytest.approx(13, abs=0.1)
    assert len(res["turbines"]) == 0 and res["table"]["turbines"].sum() == 0


def test_turbines_and_mw_with_ranges_from_the_placement():
    """Low: the large turbine (175 m, 7.2 MW) at 8 D × 4 D; high: the small one (146 m, 5.1 MW) at 4 D × 3 D."""
    from landuse.potential import parcel_potential

    layers = LayerSet(layers={name: conform(gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS), name, "test")
                              for name in SCHEMA})
    rules = load_rule_set("wind")
    parcels = gpd.GeoDataFrame({"class": ["arable"], "ags": "1", "municipality": "A"},
                               geometry=[box(0, 0, 6000, 4000)], crs=WORKING_CRS, index=["p0"])
    table = score_technology(parcels, layers, rules)["table"]
    low, central, high = table.loc["p0", ["turbines_low", "turbines", "turbines_high"]]
    assert low < central < high
    area = score_technology(parcels, layers, rules)["eligible"][["geometry"]]
    assert low == len(place_turbines(area, rotor_diameter_m=175, rated_power_mw=7.2, spacing_along_d=8,
                                     spacing_across_d=4))
    assert high == len(place_turbines(area, rotor_diameter_m=146, rated_power_mw=5.1, spacing_along_d=4,
                                      spacing_across_d=3))
    scored = parcels.drop(columns="geometry").join(table.add_prefix("wind_"))
    pot = parcel_potential(scored, rule_sets={"wind": rules}).loc["p0"]
    assert pot["wind_turbines_low"] == low and pot["wind_turbines_high"] == high
    assert pot["wind_mw_low"] == pytest.approx(min(low * 7.2, high * 5.1))
    assert pot["wind_mw"] == pytest.approx(central * 5.56)
    assert pot["wind_mw_low"] < pot["wind_mw"] < pot["wind_mw_high"]
    assert pot["wind_mw_high"] == pytest.approx(max(low * 7.2, high * 5.1))
    assert pot["avoided_t_co2e_a_low"] == pytest.approx(pot["wind_avoided_t_co2e_a_low"])


def _wind_layers(tmp_path=None, *, residential=None, plants=None, wind_speed=None):
    layers = {name: conform(gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS), name, "test") for name in SCHEMA}
    if residential is not None:
        layers["landcover"] = conform(gpd.GeoDataFrame({"class": ["residential"]}, geometry=[residential],
                                                       crs=WORKING_CRS), "landcover", "test")
    if plants is not None:
        layers["existing_plants"] = conform(gpd.GeoDataFrame(plants, crs=WORKING_CRS), "existing_plants", "test")
    rasters = {}
    if wind_speed is not None:
        import rasterio
        from rasterio.transform import from_origin

        path = tmp_path / "wind_speed_100m.tif"
        with rasterio.open(path, "w", driver="GTiff", height=10, width=10, count=1, dtype="float32",
                           crs=WORKING_CRS, transform=from_origin(-5000, 10000, 2000, 2000), nodata=np.nan) as dst:
            dst.write(np.full((1, 10, 10), wind_speed, dtype="float32"))
        rasters["wind_speed_100m"] = path
    return LayerSet(layers=layers, rasters=rasters)


def _unit(x, y, mw, hub, rotor):
    return {"technology": ["wind"], "capacity_mw": [mw], "hub_height_m": [hub], "rotor_diameter_m": [rotor],
            "geometry": [shapely.Point(x, y)]}


def _field(*boxes):
    return gpd.GeoDataFrame({"class": ["arable"] * len(boxes), "ags": "1", "municipality": "A"},
                            geometry=list(boxes), crs=WORKING_CRS, index=[f"p{i}" for i in range(len(boxes))])


def test_new_turbines_keep_the_ellipse_to_existing_units_that_stay():
    rules = load_rule_set("wind")
    field = _field(box(0, 0, 4000, 3000))
    alone = score_technology(field, _wind_layers(), rules)["turbines"]
    # too big and too high to be a repowering candidate, and 100 m outside the field (not in its eligible area)
    modern = _unit(2000, 3100, 6.0, 160, 160)
    res = score_technology(field, _wind_layers(plants=modern), rules)
    placed, units = res["turbines"], res["existing_turbines"]
    assert len(units) == 1 and not units["candidate"].iloc[0] and units["replaced_by"].iloc[0] == ""
    assert len(placed) < len(alone) and not placed["repowering"].any()
    u = np.array([np.sin(np.radians(225)), np.cos(np.radians(225))])
    v = np.array([u[1], -u[0]])
    d = np.column_stack([placed["x"], placed["y"]]) - np.array([2000, 3100])
    q = ((d @ u) / 800) ** 2 + ((d @ v) / 480) ** 2
    assert q.min() >= 1 - 1e-9  # none inside the 5 D × 3 D ellipse of the unit
    # some turbine of the field without the unit stood inside that ellipse: it was moved or dropped
    d0 = np.column_stack([alone["x"], alone["y"]]) - np.array([2000, 3100])
    assert (((d0 @ u) / 800) ** 2 + ((d0 @ v) / 480) ** 2).min() < 1


def test_repowering_replaces_a_small_unit_closer_than_the_1000_m_rule():
    rules = load_rule_set("wind")
    # a field 100-900 m from a village: the 1000 m rule leaves nothing; repowering at 2 × 247 m does
    field = _field(box(0, 0, 800, 1400))
    village = box(-700, 0, -100, 1400)
    res = score_technology(field, _wind_layers(residential=village), rules)
    assert len(res["turbines"]) == 0
    old = _unit(600, 700, 1.5, 80, 70)  # small: a repowering candidate
    res = score_technology(field, _wind_layers(residential=village, plants=old), rules)
    placed, units, table = res["turbines"], res["existing_turbines"], res["table"]
    assert units["candidate"].iloc[0] and units["why"].iloc[0] == "small"
    assert len(placed) >= 1 and placed["repowering"].all()
    assert units["replaced_by"].iloc[0] in set(placed["turbine_id"])
    assert placed.loc[placed["turbine_id"] == units["replaced_by"].iloc[0], "replaces"].iloc[0] == "EWT1-01"
    # every repowering turbine keeps 2 × total height from the village and stands within 5 × 247 m of the unit
    assert (shapely.distance(placed.geometry.values, village) >= 2 * 247 - 1e-6).all()
    assert (shapely.distance(placed.geometry.values, shapely.Point(600, 700)) <= 5 * 247).all()
    assert table.loc["p0", "repowering_turbines"] == len(placed) and table.loc["p0", "removed_mw"] == 1.5
    # a modern unit on the same spot is no candidate: nothing is replaced, nothing built
    modern = score_technology(field, _wind_layers(residential=village, plants=_unit(600, 700, 6.0, 160, 160)),
                              rules)
    assert len(modern["turbines"]) == 0 and modern["existing_turbines"]["replaced_by"].iloc[0] == ""


def test_full_load_hours_from_a_constant_wind_raster(tmp_path):
    from landuse import yields
    from landuse.potential import parcel_potential

    rules = load_rule_set("wind")
    field = _field(box(0, 0, 4000, 3000))
    res = score_technology(field, _wind_layers(tmp_path, wind_speed=6.8), rules)
    t = res["turbines"]
    assert len(t) > 3 and (t["wind_speed_100m_ms"] == 6.8).all()
    v = rules.values
    hub = 6.8 * v["wind_speed_correction"] * math.log(167 / v["roughness_length_m"]) / math.log(
        100 / v["roughness_length_m"])
    speeds, power = yields.power_curve(rated_power_mw=5.56, rotor_diameter_m=160)
    expected = yields.weibull_full_load_hours(hub, speeds, power, rated_power_mw=5.56, weibull_k=v["weibull_k"],
                                              losses=1 - (1 - v["wake_loss"]) * v["availability"])[0]
    assert t["wind_speed_hub_ms"].iloc[0] == pytest.approx(hub, abs=0.01)
    assert (t["full_load_hours_h_a"] == round(expected)).all()
    assert t["mwh_a"].sum() == pytest.approx(len(t) * 5.56 * expected)
    scored = field.drop(columns="geometry").join(res["table"].add_prefix("wind_"))
    pot = parcel_potential(scored, rule_sets={"wind": rules}).loc["p0"]
    assert pot["wind_mwh_a"] == pytest.approx(len(t) * 5.56 * expected)  # not the parameter file's 2,400 h
    assert pot["wind_mwh_a_low"] < pot["wind_mwh_a"] < pot["wind_mwh_a_high"]
    # without the raster the parameter file's full-load hours apply
    plain = score_technology(field, _wind_layers(), rules)
    scored = field.drop(columns="geometry").join(plain["table"].add_prefix("wind_"))
    assert parcel_potential(scored, rule_sets={"wind": rules}).loc["p0", "wind_mwh_a"] == pytest.approx(
        len(plain["turbines"]) * 5.56 * 2400)


def test_industrial_land_takes_turbines_with_the_rotor_off_its_buildings():
    rules = load_rule_set("wind")
    site = box(0, 0, 3000, 2000)
    hall = box(1200, 800, 1800, 1200)  # a factory hall in the middle of the plant
    layers = _wind_layers()
    layers.layers["landcover"] = conform(gpd.GeoDataFrame({"class": ["industrial"]}, geometry=[site],
                                                          crs=WORKING_CRS), "landcover", "test")
    layers.layers["buildings"] = conform(gpd.GeoDataFrame({"kind": ["yes"]}, geometry=[hall], crs=WORKING_CRS),
                                         "buildings", "test")
    parcels = gpd.GeoDataFrame({"class": ["industrial"], "ags": "1", "municipality": "A"}, geometry=[site],
                               crs=WORKING_CRS, index=["p0"])
    res = score_technology(parcels, layers, rules)
    t = res["turbines"]
    assert len(t) >= 5 and res["table"].loc["p0", "score"] > 0
    assert not shapely.intersects(shapely.buffer(t.geometry.values, 80), hall).any()  # rotor discs clear the hall
    assert res["table"].loc["p0", "sub_land_cover"] == 50


def test_border_band_keeps_half_the_spacing_ellipse_on_each_side():
    from landuse.technologies.wind import border_band

    # two square municipalities side by side; the wind from the south-west (225°): ellipse 800 m × 480 m
    west, east = box(0, 0, 4000, 4000), box(4000, 0, 8000, 4000)
    bw = border_band(west, along_m=800, across_m=480)
    be = border_band(east, along_m=800, across_m=480)
    u = np.array([np.sin(np.radians(225)), np.cos(np.radians(225))])
    v = np.array([u[1], -u[0]])
    # along x, the half ellipse reaches sqrt((400 sin45)^2 + (240 cos45)^2) = 329.8 m from the border
    reach = np.hypot(400 * np.sin(np.radians(45)), 240 * np.cos(np.radians(45)))
    assert bw.contains(shapely.Point(4000 - reach + 2, 2000)) and not bw.contains(shapely.Point(4000 - reach - 2, 2000))
    # any tower of the west outside its band and any of the east outside its band keep the whole ellipse
    rng = np.random.default_rng(1)
    pw = rng.uniform([3000, 500], [4000, 3500], size=(4000, 2))
    pe = rng.uniform([4000, 500], [5000, 3500], size=(4000, 2))
    pw = pw[~shapely.contains_xy(bw, pw[:, 0], pw[:, 1])]
    pe = pe[~shapely.contains_xy(be, pe[:, 0], pe[:, 1])]
    d = pw[:, None, :] - pe[None, :, :]
    q = np.hypot((d @ u) / 800, (d @ v) / 480)
    assert q.min() >= 1 - 1e-6
    assert q.min() < 1.05  # and the band is no wider than it must be


def test_each_municipality_places_its_own_turbines_away_from_the_border():
    from landuse.layers import LayerSet

    rules = load_rule_set("wind")
    layers = _wind_layers()
    west, east = box(0, 0, 4000, 4000), box(4000, 0, 8000, 4000)
    layers.layers["boundaries"] = conform(gpd.GeoDataFrame({"ags": ["1", "2"], "name": ["W", "E"], "group": "G"},
                                                           geometry=[west, east], crs=WORKING_CRS),
                                          "boundaries", "test")
    both = gpd.GeoDataFrame({"class": "arable", "ags": ["1", "2"], "municipality": ["W", "E"]},
                            geometry=[west, east], crs=WORKING_CRS, index=["w", "e"])
    together = score_technology(both, layers, rules)["turbines"]
    alone = score_technology(both.loc[["w"]], LayerSet({**layers.layers, "boundaries": layers["boundaries"].iloc[:1]}),
                             rules)["turbines"]
    west_turbines = together[together["parcel_id"] == "w"]
    assert len(west_turbines) >= 3 and (together["parcel_id"] == "e").sum() >= 3
    # the west's turbines do not depend on the east: the same with or without it
    assert list(west_turbines["turbine_id"]) == list(alone["turbine_id"])
    assert np.allclose(west_turbines[["x", "y"]].to_numpy(), alone[["x", "y"]].to_numpy())
    assert all(t.startswith("WT1-") for t in west_turbines["turbine_id"])
    # across the border every pair keeps the 5 D × 3 D ellipse
    u = np.array([np.sin(np.radians(225)), np.cos(np.radians(225))])
    v = np.array([u[1], -u[0]])
    e = together[together["parcel_id"] == "e"]
    d = west_turbines[["x", "y"]].to_numpy()[:, None, :] - e[["x", "y"]].to_numpy()[None, :, :]
    assert np.hypot((d @ u) / 800, (d @ v) / 480).min() >= 1 - 1e-9


def test_tower_area_overlay_survives_an_invalid_input():
    from landuse.technologies.wind import _difference

    bow_tie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # self-intersecting at (50, 50)
    with pytest.raises(shapely.errors.GEOSException):
        shapely.difference(bow_tie, box(40, 40, 60, 60))
    rest = _difference(bow_tie, box(40, 0, 60, 100))
    # two triangles of 2,500 m² each, minus the band 40 <= x <= 60 through their common vertex:
    # each loses the integral of its height 100 - 2x (x from 40 to 50), 100 m²
    assert shapely.is_valid(rest) and rest.area == pytest.approx(4800, rel=1e-9)


def test_repowering_area_made_once_for_the_units_every_design_leaves_open(monkeypatch):
    from landuse.technologies.wind import Wind

    rules = load_rule_set("wind")
    field = _field(box(0, 0, 800, 1400))
    layers = _wind_layers(residential=box(-700, 0, -100, 1400), plants=_unit(600, 700, 1.5, 80, 70))
    made = []
    real, real_place = Wind._repowering_area, Wind._place_per_municipality
    monkeypatch.setattr(Wind, "_repowering_area", staticmethod(lambda *args: made.append(1) or real(*args)))
    shared = score_technology(field, layers, rules)
    # the 1000 m rule leaves no eligible area under any design: the unit stays open for all three
    # (central, low, high), and its repowering area is made once, not three times
    assert len(made) == 1
    assert shared["table"].loc["p0", "turbines"] >= 1 and shared["table"].loc["p0", "turbines_low"] >= 1
    made.clear()
    # without the shared areas (each design makes its own): the same turbines and counts
    monkeypatch.setattr(Wind, "_place_per_municipality",
                        lambda self, *a, zones=None, **k: real_place(self, *a, zones=None, **k))
    alone = score_technology(field, layers, rules)
    assert len(made) == 3  # each design its own
    pd.testing.assert_frame_equal(shared["table"], alone["table"])
    pd.testing.assert_frame_equal(pd.DataFrame(shared["turbines"]), pd.DataFrame(alone["turbines"]))
