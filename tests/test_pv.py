"""Open-space PV (landuse.technologies.pv): EEG corridor bands along motorways and main
railways, Agri-PV on good farmland, the minimum plant area."""

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, box

from landuse.config import WORKING_CRS
from landuse.criteria import load_rule_set
from landuse.layers import SCHEMA, LayerSet, conform
from landuse.suitability import score_technology


def _layers(**frames) -> LayerSet:
    layers = {}
    for name in SCHEMA:
        gdf = frames.get(name, gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS))
        layers[name] = conform(gdf, name, "test")
    return LayerSet(layers=layers)


def _parcels(*geoms, cls="arable"):
    return gpd.GeoDataFrame({"class": cls, "ags": "1", "municipality": "A"}, geometry=list(geoms),
                            crs=WORKING_CRS, index=[f"p{i}" for i in range(len(geoms))])


def _motorway():
    return gpd.GeoDataFrame({"class": ["motorway"], "kind": ["motorway"]},
                            geometry=[LineString([(-1000, 0), (5000, 0)])], crs=WORKING_CRS)


def test_pv_corridor_bands():
    rules = load_rule_set("pv")
    parcel = _parcels(box(0, 40, 1000, 1040))  # 40…1040 m north of the motorway
    parcel["nfk_mean"] = 100.0
    res = score_technology(parcel, _layers(roads=_motorway()), rules)
    t = res["table"].loc["p0"]
    assert t["privileged_ha"] == pytest.approx(1000 * 160 / 1e4, rel=1e-3)  # 40…200 m
    assert t["eeg_corridor_ha"] == pytest.approx(1000 * 300 / 1e4, rel=1e-3)  # 200…500 m
    assert t["eligible_ha"] == pytest.approx(100, rel=1e-3)
    sub = (0.16 * 100 + 0.30 * 80 + 0.54 * 30)
    assert t["sub_eeg_corridor"] == pytest.approx(sub, abs=0.1)


def test_motorway_building_ban_and_good_soil_for_agri_pv():
    rules = load_rule_set("pv")
    # straddling the motorway: its 40 m building ban on both sides is excluded
    parcels = _parcels(box(0, -500, 1000, 500), box(2000, 1000, 2500, 1200))
    parcels["nfk_mean"] = [100.0, 200.0]  # the second field is too good for conventional PV (> 180 mm)
    res = score_technology(parcels, _layers(roads=_motorway()), rules)
    t = res["table"]
    assert t.loc["p0", "eligible_ha"] == pytest.approx(1000 * (1000 - 80) / 1e4, rel=1e-3)
    assert "motorway_building_ban" in t.loc["p0", "reason"] and t.loc["p0", "agri_pv_ha"] == 0
    assert t.loc["p1", "eligible_ha"] == 0 and t.loc["p1", "agri_pv_ha"] == pytest.approx(10, rel=1e-6)
    assert "soil_agri_pv_only" in t.loc["p1", "reason"].split(";")
    agri = res["agri_pv"]
    assert list(agri.index) == ["p1"] and shapely.equals(agri.geometry.iloc[0], box(2000, 1000, 2500, 1200))


def test_minimum_plant_area():
    rules = load_rule_set("pv")  # min_patch_ha 3
    parcels = _parcels(box(0, 0, 100, 200), box(1000, 0, 1200, 200))  # 2 ha and 4 ha
    parcels["nfk_mean"] = 100.0
    t = score_technology(parcels, _layers(), rules)["table"]
    assert t.loc["p0", "eligible_ha"] == 0 and t.loc["p0", "excl_min_patch_share"] == 1
    assert "min_patch" in t.loc["p0", "reason"].split(";") and pytest.approx(4) == t.loc["p1", "eligible_ha"]


def test_tiny_region_corridor_bands(tiny_layers):
    from landuse.parcels import build_parcels

    parcels = build_parcels(tiny_layers)
    pv = score_technology(parcels, tiny_layers, load_rule_set("pv"))["table"]
    sw = parcels.index[(parcels["class"] == "arable") & (parcels.geometry.centroid.y < 5_701_000)
                       & (parcels.geometry.centroid.x < 341_000)][0]
    # the south-west field (y 600…1000) lies 150…550 m north of the motorway (y 450) and
    # 450…850 m south of the main railway (y 1450): privileged within 200 m of the motorway
    # (y < 650), EEG corridor beyond (the motorway's band ends at y 950, the railway's begins there)
    assert pv.loc[sw, "privileged_ha"] == pytest.approx(898.5 * 50 / 1e4, rel=1e-3)
    assert pv.loc[sw, "eeg_corridor_ha"] == pytest.approx(898.5 * 350 / 1e4, rel=1e-3)


def test_slope_limit_excludes_steep_parcels():
    rules = load_rule_set("pv")
    parcels = _parcels(box(0, 2000, 1000, 3000), box(2000, 2000, 3000, 3000), box(4000, 2000, 5000, 3000))
    parcels["nfk_mean"] = 100.0
    parcels["slope_deg_mean"] = [9.9, 10.1, float("nan")]  # the limit is 10°; no DEM value passes
    t = score_technology(parcels, _layers(), rules)["table"]
    assert t.loc["p0", "eligible_ha"] == pytest.approx(100) and t.loc["p2", "eligible_ha"] == pytest.approx(100)
    assert t.loc["p1", "eligible_ha"] == 0 and "slope" in t.loc["p1", "reason"].split(";")
    assert t["excl_slope_share"].tolist() == [0.0, 1.0, 0.0]


def test_specific_yield_from_the_irradiation_per_parcel():
    from landuse.potential import default_parameters, parcel_potential
    from landuse.technologies.pv import specific_yield

    rules = load_rule_set("pv")
    parcels = _parcels(box(0, 2000, 1000, 3000), box(2000, 2000, 3000, 3000))
    parcels["nfk_mean"] = 100.0
    parcels["irradiation_mean"] = [1240.0, float("nan")]
    table = score_technology(parcels, _layers(), rules)["table"]
    scored = parcels.drop(columns="geometry").join(table.add_prefix("pv_"))
    values = {k: p.value for k, p in default_parameters().items()}
    kwh_kwp = specific_yield(scored, values)
    assert kwh_kwp["p0"] == pytest.approx(1240 * 0.90 * 1.13 * 0.85)  # irradiation × long-term × plane × PR
    assert kwh_kwp["p1"] == 1050  # no irradiation: the parameter file's yield
    pot = parcel_potential(scored, rule_sets={"pv": rules})
    assert pot.loc["p0", "pv_mwh_a"] == pytest.approx(100 / 1.0 * 1240 * 0.90 * 1.13 * 0.85)
    # the range follows the declared ends of the three factors (and the land need)
    assert pot.loc["p0", "pv_mwh_a_low"] == pytest.approx(100 / 1.2 * 1240 * 0.86 * 1.08 * 0.80)
    assert pot.loc["p0", "pv_mwh_a_high"] == pytest.approx(100 / 0.8 * 1240 * 0.94 * 1.16 * 0.88)


def test_conversion_land_is_a_pv_candidate_off_its_buildings():
    rules = load_rule_set("pv")
    parcels = _parcels(box(0, 2000, 500, 2500), cls="conversion")  # a former barracks site, 25 ha
    parcels["nfk_mean"] = 200.0  # good soil under it: still no Agri-PV, it is no farmland
    barracks = gpd.GeoDataFrame({"kind": ["yes"]}, geometry=[box(200, 2200, 300, 2300)], crs=WORKING_CRS)
    site = gpd.GeoDataFrame({"class": ["conversion"]}, geometry=[box(0, 2000, 500, 2500)], crs=WORKING_CRS)
    res = score_technology(parcels, _layers(buildings=barracks, landcover=site), rules)
    t = res["table"].loc["p0"]
    # 25 ha minus the building and its 10 m lane: 120 m × 120 m
    assert t["eligible_ha"] == pytest.approx(25 - 1.44, abs=0.01) and t["agri_pv_ha"] == 0
    assert t["sub_conversion_land"] == 100 and t["score"] > 0
    farm = _parcels(box(0, 2000, 500, 2500))
    farm["nfk_mean"] = 100.0
    assert score_technology(farm, _layers(), rules)["table"].loc["p0", "sub_conversion_land"] != 100


def test_pv_yield_from_a_synthetic_irradiation_raster(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from landuse.parcels import raster_statistics
    from landuse.potential import default_parameters
    from landuse.technologies.pv import specific_yield

    path = tmp_path / "irradiation.tif"
    grid = np.full((4, 4), 1200.0, dtype="float32")
    grid[:, 2:] = 1260.0  # the eastern half sunnier
    with rasterio.open(path, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32", crs=WORKING_CRS,
                       transform=from_origin(0, 4000, 1000, 1000), nodata=np.nan) as dst:
        dst.write(grid, 1)
    parcels = _parcels(box(100, 100, 1900, 1900), box(2100, 100, 3900, 1900))
    stats = raster_statistics(parcels, path, "irradiation")
    assert stats["irradiation_mean"].tolist() == [1200.0, 1260.0]
    values = {k: p.value for k, p in default_parameters().items()}
    got = specific_yield(parcels.join(stats), values)
    assert got.tolist() == pytest.approx([1200 * 0.90 * 1.13 * 0.85, 1260 * 0.90 * 1.13 * 0.85])  # kWh/kWp/a
