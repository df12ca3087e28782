"""The whole job on real data: sanity of the figures for one municipality (Thallwitz, a commune
of the Wurzener Land) cut from the default region's data; the full region runs in CI's
end-to-end step and in benchmarks/bench_run.py."""

import geopandas as gpd
import numpy as np
import pytest
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
