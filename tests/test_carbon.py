"""Balance against the emission load and monitoring (the wood-chip chain: test_woodchips.py)."""

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landuse.carbon import balance, compare_snapshots, emission_loads, save_snapshot
from landuse.config import load_region
from landuse.criteria import load_rule_sets
from landuse.potential import parcel_potential

#: The default rule sets of every technology (wind: the reference turbine's rated power).
RULES = load_rule_sets()


@pytest.fixture()
def region():
    return load_region()


def _parcels():
    rows = [("14713000", "Leipzig", "Leipzig", 10, 0, 0), ("14729410", "Wurzen", "Wurzener Land", 0, 2, 0),
            ("14729030", "Bennewitz", "Wurzener Land", 5, 0, 12), ("14729380", "Thallwitz", "Wurzener Land", 0, 0, 0),
            ("14729245", "Lossatal", "Wurzener Land", 0, 1, 30)]
    return gpd.GeoDataFrame({
        "ags": [r[0] for r in rows], "municipality": [r[1] for r in rows], "municipality_group": [r[2] for r in rows],
        "class": "arable", "pv_eligible_ha": [r[3] for r in rows], "wind_turbines": [r[4] for r in rows],
        "agroforestry_eligible_ha": [r[5] for r in rows], "agroforestry_layout": "coppice",
    }, geometry=[box(i * 1000, 0, i * 1000 + 500, 500) for i in range(5)], crs="EPSG:25833",
        index=[f"p{i}" for i in range(5)])


def test_loads(region):
    parcels = _parcels()
    loads = emission_loads(region, parcels[["ags", "municipality"]])
    assert loads["municipality", "Leipzig"] == loads["group", "Leipzig"] == 3_401_109
    assert loads["group", "Wurzener Land"] == 292_483
    assert loads["region", "Region"] == 3_401_109 + 292_483
    # the communes' load split by inhabitants (Wurzen 16,715 of 31,492)
    assert loads["municipality", "Wurzen"] == pytest.approx(292_483 * 16_715 / 31_492)
    communes = loads["municipality"][["Wurzen", "Bennewitz", "Thallwitz", "Lossatal"]]
    assert communes.sum() == pytest.approx(292_483)


def test_totals_are_sums_and_coverage(region):
    parcels = _parcels()
    pot = parcel_potential(parcels, rule_sets=RULES, options=region.balance)
    table = balance(parcels, pot, region)
    munis = table[table["level"] == "municipality"]
    for col in ("pv_mwp", "wind_mw", "avoided_t_co2e_a", "avoided_t_co2e_a_low", "sequestered_t_co2e_a_high"):
        assert table.loc["Region", col] == pytest.approx(munis[col].sum())
        assert table.loc["Wurzener Land", col] == pytest.approx(munis.drop(index="Leipzig")[col].sum())
    r = table.loc["Region"]
    assert r["tier"] == "technical"
    assert r["coverage_avoided_share"] == pytest.approx(
        (r["avoided_t_co2e_a"] + r["sequestered_t_co2e_a"]) / 3_693_592)
    # territorial frame: only the fossil heat replaced lowers the load; sinks beside it; electricity as MWh/a
    assert r["territorial_t_co2e_a"] == pytest.approx(r["coppice_avoided_t_co2e_a"])
    assert r["coverage_territorial_share"] == pytest.approx(r["coppice_avoided_t_co2e_a"] / 3_693_592)
    assert r["sinks_t_co2e_a"] == pytest.approx(r["soil_sequestered_t_co2e_a"])
    assert r["local_electricity_mwh_a"] == pytest.approx(r["pv_mwh_a"] + r["wind_mwh_a"])
    assert r["energy_use_mwh_a"] == 9_922_900 + 958_038  # baseline energy use of both groups
    assert r["electricity_share_of_energy_use"] == pytest.approx(r["local_electricity_mwh_a"] / 10_880_938)
    for sfx in ("avoided_t_co2e_a", "coverage_avoided_share", "coverage_territorial_share"):
        assert (table[f"{sfx}_low"] <= table[sfx]).all() and (table[sfx] <= table[f"{sfx}_high"]).all()
    quarter = balance(parcels, pot, region, share=0.25)
    assert quarter.loc["Region", "avoided_t_co2e_a"] == pytest.approx(r["avoided_t_co2e_a"] / 4)
    assert quarter.loc["Thallwitz", "avoided_t_co2e_a"] == 0 and not np.isnan(quarter.loc["Thallwitz", "pv_mwp"])


def test_monitoring_snapshot_and_compare(region, tmp_path):
    parcels = _parcels()
    old = balance(parcels, parcel_potential(parcels, rule_sets=RULES, options=region.balance), region)
    path = save_snapshot(old, tmp_path, dt.date(2026, 1, 31))
    assert path.name == "balance_2026-01-31.csv"
    parcels.loc["p1", "wind_turbines"] = 3
    new = balance(parcels, parcel_potential(parcels, rule_sets=RULES, options=region.balance), region)
    table = compare_snapshots(pd.read_csv(path, index_col=0), new)
    wurzen = table[(table["area"] == "Wurzen") & (table["indicator"] == "wind_turbines")].iloc[0]
    assert (wurzen["old"], wurzen["new"], wurzen["change"], wurzen["change_pct"]) == (2, 3, 1, 50)
    leipzig = table[(table["area"] == "Leipzig") & (table["indicator"] == "pv_mwp")]
    assert list(leipzig["level"]) == ["municipality", "group"] and (leipzig["change"] == 0).all()



def test_dated_loads_and_load_year(region):
    from landuse.carbon import dated_loads, loads_in

    loads = dated_loads(region)
    leipzig = loads[loads["group"] == "Leipzig"].set_index("year")
    assert leipzig.loc[2016, "t_co2e_a"] == 3_401_109 and leipzig.loc[2016, "kind"] == "baseline"
    assert leipzig.loc[2021, "t_co2e_a"] == pytest.approx(5.02 * 601_866)  # t per inhabitant × inhabitants
    assert leipzig.loc[2040, "kind"] == "target" and leipzig.loc[2040, "t_co2e_a"] == pytest.approx(0.25 * 608_013)
    chosen = loads_in(region, 2021)
    assert chosen["Leipzig"] == (pytest.approx(5.02 * 601_866), 2021)
    assert chosen["Wurzener Land"] == (292_483, 2016)  # no later figure: the latest measured one
    assert loads_in(region, 2019)["Leipzig"][1] == 2018  # between measurements: the earlier one, not a target
    parcels = _parcels()
    pot = parcel_potential(parcels, rule_sets=RULES, options=region.balance)
    table = balance(parcels, pot, region, load_year=2021)
    assert table.loc["Region", "emission_load_t_co2e_a"] == pytest.approx(5.02 * 601_866 + 292_483)
    assert table.loc["Region", "emission_load_year"] == "2016/2021"
    assert table.loc["Bennewitz", "emission_load_year"] == "2016"


def test_trajectory(region):
    from landuse.carbon import trajectory

    parcels = _parcels()
    pot = parcel_potential(parcels, rule_sets=RULES, options=region.balance)
    summary = pd.concat([balance(parcels, pot, region, tier=t) for t in ("realistic", "technical")])
    traj = trajectory(summary, region)
    assert sorted({y for _, y in traj.index}) == [2016, 2018, 2021, 2030, 2040]
    row = traj.loc[("Leipzig", 2030)]
    real = summary[(summary["tier"] == "realistic") & (summary["level"] == "group")].loc["Leipzig"]
    assert row["kind"] == "target" and row["load_t_co2e_a"] == pytest.approx(1.9 * 608_013)
    assert row["coverage_avoided_share"] == pytest.approx(
        (real["avoided_t_co2e_a"] + real["sequestered_t_co2e_a"]) / (1.9 * 608_013))
    assert row["coverage_territorial_share"] == pytest.approx(real["territorial_t_co2e_a"] / (1.9 * 608_013))


def test_unknown_load_year_is_one_line(tmp_path):
    from landuse.errors import ConfigError
    from landuse.pipeline import context

    with pytest.raises(ConfigError) as err:
        context("leipzig-wurzen", out=tmp_path, load_year=1999)
    assert str(err.value).endswith("no emission load for 1999; the region declares 2016, 2018, 2021, 2030, 2040 "
                                   "(baseline and baseline.loads).")
