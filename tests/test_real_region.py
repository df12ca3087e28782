"""The whole job on real data: sanity of the figures for one municipality (Thallwitz, a commune
of the Wurzener Land) cut from the default region's data; the full region runs in CI's
end-to-end step and in benchmarks/bench_run.py."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import REAL_REGION_DATA

from landuse.pipeline import run


@pytest.fixture(scope="module")
def real_run(thallwitz_region, tmp_path_factory):
    base = tmp_path_factory.mktemp("thallwitz-run")
    out = base / "outputs"
    return run(thallwitz_region, data=REAL_REGION_DATA, layers_dir=base / "layers", out=out), out


def test_layers_and_parcels(real_run):
    res, _ = real_run
    layers = res["layers"].data
    assert list(layers["boundaries"]["ags"]) == ["14729380"]
    area_ha = layers["boundaries"].geometry.area.sum() / 1e4
    assert area_ha == pytest.approx(5_300, rel=0.02)  # VG250 (simplified): Thallwitz about 53 km²
    assert layers.manifest["margin_m"] == 3000  # the widest rule buffer of the rules in use
    parcels = res["parcels"].data
    assert 300 < len(parcels) < 3_000 and parcels.index.is_unique
    # parcels tile the land without overlap, less road corridors, slivers and gaps in OSM's land cover
    assert 0.85 < parcels["area_ha"].sum() / area_ha <= 1.0
    cand = parcels.loc[parcels["candidate"], "area_ha"].sum() / area_ha
    assert 0.6 < cand < 0.95  # a rural commune: mostly open land


def test_suitability_and_balance(real_run):
    res, out = real_run
    summary = res["suitability"].summary
    land = res["parcels"].data["area_ha"].sum()
    assert 1 <= summary.loc["Region", "wind_turbines"] < 40
    assert summary.loc["Region", "wind_eligible_ha"] < 0.15 * land  # well under the land area
    assert summary.loc["Region", "pv_eligible_ha"] + summary.loc["Region", "pv_agri_pv_ha"] < land
    bal = res["balance"].summary
    full = bal[(bal["level"] == "region") & (bal["share_realised"] == 1.0)].set_index("tier")
    region = full.loc["technical"]
    # no emission load configured for this region: absolute figures, no coverage share
    assert np.isnan(region["emission_load_t_co2e_a"]) and np.isnan(region["coverage_avoided_share"])
    assert region["avoided_t_co2e_a_low"] < region["avoided_t_co2e_a"] < region["avoided_t_co2e_a_high"]
    assert region["wind_mw"] == pytest.approx(5.56 * region["wind_turbines"])
    turbines = gpd.read_file(out / "landuse.gpkg", layer="wind_turbines")
    assert len(turbines) == summary.loc["Region", "wind_turbines"]
    assert turbines.crs.to_epsg() == 25833
    assert (out / "map.html").stat().st_size < 5e6


def test_allocation_one_use_per_hectare(real_run):
    res, out = real_run
    parts = gpd.read_file(out / "landuse.gpkg", layer="allocation")
    assert set(parts["use"]) <= {"wind", "pv", "agroforestry"} and parts.crs.to_epsg() == 25833
    assert set(parts.geom_type) <= {"Polygon", "MultiPolygon"}  # Shapefile-safe: no stray lines from the cuts
    assert (out / "shapefiles" / "allocation.shp").is_file()
    by_use = {use: g.set_index("parcel_id").geometry for use, g in parts.groupby("use")}
    for a, b in (("pv", "agroforestry"), ("pv", "wind")):  # uses that exclude each other
        if a in by_use and b in by_use:
            common = by_use[a].index.intersection(by_use[b].index)
            overlap = shapely.area(shapely.intersection(by_use[a].loc[common].values, by_use[b].loc[common].values))
            assert overlap.sum() < 10.0, (a, b)  # m², rounding of the cuts
    assert "forest" not in set(res["parcels"].data.loc[parts.loc[parts["use"] == "wind", "parcel_id"], "class"])


def test_realistic_within_technical_and_frames_by_hand(real_run):
    res, _ = real_run
    summary, potential, parts = res["balance"].data
    full = summary[(summary["share_realised"] == 1.0) & (summary.index == "Thallwitz")
                   & (summary["level"] == "municipality")].set_index("tier")
    real, tech = full.loc["realistic"], full.loc["technical"]
    for col in ("pv_mwp", "wind_turbines", "wind_mw", "coppice_planted_ha", "heat_mwh_a", "avoided_t_co2e_a",
                "sequestered_t_co2e_a", "territorial_t_co2e_a", "local_electricity_mwh_a"):
        assert real[col] <= tech[col] + 1e-6, col
    assert real["pv_mwp"] < tech["pv_mwp"]  # the PV cap binds: one use per hectare is not the technical sum
    assert tech["agri_pv_mwp"] > 0
    assert real["agri_pv_mwp"] == pytest.approx(tech["agri_pv_mwp"])  # Agri-PV: its own line, outside both tiers
    # by hand from the realistic potential per parcel: avoided frame = PV + wind + heat; territorial = heat only
    pot = potential[potential["tier"] == "realistic"]
    assert real["avoided_t_co2e_a"] == pytest.approx(
        pot[["pv_avoided_t_co2e_a", "wind_avoided_t_co2e_a", "coppice_avoided_t_co2e_a"]].sum().sum())
    assert real["territorial_t_co2e_a"] == pytest.approx(pot["coppice_avoided_t_co2e_a"].sum())
    assert real["local_electricity_mwh_a"] == pytest.approx(pot["pv_mwh_a"].sum() + pot["wind_mwh_a"].sum())
    # PV at the grid mix: MWh × (363 − 50) g/kWh
    assert real["pv_avoided_t_co2e_a"] == pytest.approx(real["pv_mwh_a"] * 313 / 1000)
    # the allocated PV stays within 1 % of the municipal area (default cap)
    assert parts.loc[parts["use"] == "pv", "ha"].sum() <= 0.01 * 5_301 + 0.5
