"""The whole job on the real data of the default region: sanity of the figures.

Uses the repository's layers/ and outputs/ folders (as the notebooks do), so stages built by
the notebooks are reused.
"""

import geopandas as gpd
import pytest
from conftest import REAL_REGION_DATA, REPO

from landuse.pipeline import run_all


@pytest.fixture(scope="module")
def real_run():
    if not REAL_REGION_DATA.is_dir():
        pytest.skip("real data of the default region not found")
    out = REPO / "outputs" / "leipzig-wurzen"
    return run_all("leipzig-wurzen", REAL_REGION_DATA, REPO / "layers", out), out


def test_layers_and_parcels(real_run):
    res, _ = real_run
    layers = res["layers"].data
    assert sorted(layers["boundaries"]["ags"]) == ["14713000", "14729030", "14729245", "14729380", "14729410"]
    area_ha = layers["boundaries"].set_index("name").geometry.area / 1e4
    assert area_ha["Leipzig"] == pytest.approx(29_780, rel=0.01)  # VG250 (simplified) vs. the official 297.8 km²
    parcels = res["parcels"].data
    assert 8_000 < len(parcels) < 20_000 and parcels.index.is_unique
    cand = parcels[parcels["candidate"]].groupby("municipality")["area_ha"].sum() / area_ha
    assert cand["Leipzig"] == pytest.approx(0.38, abs=0.1)  # a city: little open land
    for commune in ("Wurzen", "Bennewitz", "Thallwitz", "Lossatal"):
        assert 0.6 < cand[commune] < 0.95, commune


def test_suitability_and_balance(real_run):
    res, out = real_run
    summary = res["suitability"].summary
    assert 20 < summary.loc["Region", "wind_turbines"] < 300
    assert summary.loc["Region", "wind_eligible_ha"] < 0.15 * 57_788  # well under the land area
    bal = res["balance"].summary
    region = bal[(bal["level"] == "region") & (bal["share_realised"] == 1.0)].iloc[0]
    assert region["emission_load_t_co2e_a"] == 3_693_592
    assert region["coverage_share_low"] < region["coverage_share"] < region["coverage_share_high"]
    assert 0.3 < region["coverage_share"] < 3  # the order of magnitude of the regional potential
    turbines = gpd.read_file(out / "landuse.gpkg", layer="wind_turbines")
    assert len(turbines) == summary.loc["Region", "wind_turbines"]
    assert (out / "map.html").stat().st_size < 25e6
