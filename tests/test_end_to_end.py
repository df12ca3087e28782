"""End to end on the full default region (Leipzig and the Wurzener Land): `landuse run` as the
README gives it, then the figures a council reads. Runs in CI's end-to-end step
(``LANDUSE_FULL_REGION=1``; about 2 minutes), skipped otherwise to keep the suite short."""

import os

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from conftest import REAL_REGION_DATA

from landuse.cli import main
from landuse.pipeline import run

pytestmark = pytest.mark.skipif(not os.environ.get("LANDUSE_FULL_REGION"),
                                reason="set LANDUSE_FULL_REGION=1 for the full default region (CI's end-to-end step)")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    if not REAL_REGION_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_REGION_DATA}")
    base = tmp_path_factory.mktemp("full")
    args = ["--out", str(base / "outputs"), "--layers-dir", str(base / "layers")]
    result = CliRunner().invoke(main, ["-q", "run", *args])
    assert result.exit_code == 0, result.output
    assert "realistic" in result.output and "territorial" in result.output  # tiers and frames named
    res = run("leipzig-wurzen", layers_dir=base / "layers", out=base / "outputs")
    assert all(r.reused for r in res.values())  # the CLI and the library share the stages
    return res, base / "outputs"


def test_region_and_parcels(full):
    res, _ = full
    boundaries = res["layers"].data["boundaries"]
    assert sorted(boundaries["ags"]) == ["14713000", "14729030", "14729245", "14729380", "14729410"]
    area_ha = boundaries.set_index("name").geometry.area / 1e4
    assert area_ha["Leipzig"] == pytest.approx(29_780, rel=0.01)
    parcels = res["parcels"].data
    assert 8_000 < len(parcels) < 20_000 and parcels.index.is_unique
    cand = parcels[parcels["candidate"]].groupby("municipality")["area_ha"].sum() / area_ha
    assert cand["Leipzig"] == pytest.approx(0.38, abs=0.1)
    for commune in ("Wurzen", "Bennewitz", "Thallwitz", "Lossatal"):
        assert 0.6 < cand[commune] < 0.95, commune


def test_tiers_frames_and_wind(full):
    res, _ = full
    summary = res["balance"].summary
    full_share = summary[summary["share_realised"] == 1.0]
    region = full_share[full_share["level"] == "region"].set_index("tier")
    assert (region["emission_load_t_co2e_a"] == 3_693_592).all()
    real, tech = region.loc["realistic"], region.loc["technical"]
    for col in ("pv_mwp", "wind_turbines", "wind_mw", "coppice_planted_ha", "avoided_t_co2e_a",
                "territorial_t_co2e_a", "local_electricity_mwh_a", "coverage_avoided_share"):
        assert real[col] <= tech[col] + 1e-6, col
    assert real["coverage_avoided_share"] < 0.5 * tech["coverage_avoided_share"]  # one use per hectare matters
    assert real["coverage_territorial_share"] < real["coverage_avoided_share"]  # electricity earns no BISKO credit
    assert tech["wind_turbines_low"] < tech["wind_turbines"] < tech["wind_turbines_high"]
    assert tech["wind_mw_low"] < tech["wind_mw"] < tech["wind_mw_high"]
    suit = res["suitability"].summary
    assert suit.loc["Region", "wind_eligible_share_of_area"] == pytest.approx(
        suit.loc["Region", "wind_eligible_ha"] / 57_788, rel=0.02)


def test_allocation_layer(full):
    res, out = full
    parts = gpd.read_file(out / "landuse.gpkg", layer="allocation")
    assert set(parts.geom_type) <= {"Polygon", "MultiPolygon"}
    by_use = {use: g.set_index("parcel_id").geometry for use, g in parts.groupby("use")}
    for a, b in (("pv", "agroforestry"), ("pv", "wind")):
        common = by_use[a].index.intersection(by_use[b].index)
        overlap = shapely.area(shapely.intersection(by_use[a].loc[common].values, by_use[b].loc[common].values))
        assert overlap.sum() < 10.0, (a, b)  # m²
    area_ha = res["layers"].data["boundaries"].set_index("name").geometry.area / 1e4
    pv = parts[parts["use"] == "pv"].groupby("municipality")["ha"].sum()
    assert (pv <= 0.01 * area_ha.reindex(pv.index) + 0.5).all()  # the default PV cap: 1 % of the area
    wind_parcels = res["parcels"].data.loc[parts.loc[parts["use"] == "wind", "parcel_id"], "class"]
    assert "forest" not in set(wind_parcels)
