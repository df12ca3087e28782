"""Potential per parcel: each formula against a hand computation, units in the names."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from landuse.criteria import load_rule_sets
from landuse.parameters import PARAMETER_DIR
from landuse.potential import C_TO_CO2, parcel_potential, potential_central, potential_parameters

#: The default rule sets of every technology (the turbine's rated power comes from the wind set).
RULES = load_rule_sets()
P = {k: v.value for k, v in potential_parameters(RULES).items()}


def _parcels():
    return pd.DataFrame({
        "class": ["arable", "grassland", "arable", "arable"],
        "pv_eligible_ha": [10.0, 0.0, 0.0, 0.0],
        "pv_agri_pv_ha": [0.0, 0.0, 6.0, 0.0],
        "wind_turbines": [2, 0, 0, 0],
        "agroforestry_eligible_ha": [0.0, 4.0, 20.0, 0.0],
        "agroforestry_riparian_ha": [0.0, 0.0, 2.0, 0.0],
        "agroforestry_layout": ["", "coppice", "alley_cropping", ""],
    }, index=["pv_wind", "grass", "alley", "empty"])


def test_pv_and_wind_by_hand():
    assert RULES["wind"].values["rated_power_mw"] == 5.56  # MW, reference turbine of wind.yaml
    out = potential_central(_parcels(), P, rule_sets=RULES)
    r = out.loc["pv_wind"]
    # 10 ha / 1.0 ha/MWp = 10 MWp; × 1050 MWh/MWp = 10,500 MWh/a; × (363 − 50) g/kWh = 3,286.5 t/a
    # (avoided-emissions frame: the grid mix 2024 is the central factor)
    assert r["pv_mwp"] == pytest.approx(10.0)
    assert r["pv_mwh_a"] == pytest.approx(10_500)
    assert r["pv_avoided_t_co2e_a"] == pytest.approx(10_500 * 313 / 1000)
    # 2 × 5.56 MW × 2400 h = 26,688 MWh/a; × (363 − 9.5) g/kWh = 9,434.2 t/a
    assert r["wind_mw"] == pytest.approx(11.12)
    assert r["wind_mwh_a"] == pytest.approx(26_688)
    assert r["wind_avoided_t_co2e_a"] == pytest.approx(26_688 * 353.5 / 1000)
    # Agri-PV: 6 ha / 2 ha/MWp = 3 MWp, reported apart from the totals
    assert out.loc["alley", "agri_pv_mwp"] == pytest.approx(3.0)
    assert out.loc["alley", "avoided_t_co2e_a"] == pytest.approx(out.loc["alley", "coppice_avoided_t_co2e_a"])


def test_turbine_power_comes_from_the_wind_rule_set():
    wind = RULES["wind"]
    bigger = dataclasses.replace(wind, values={**wind.values, "rated_power_mw": 7.2})
    out = potential_central(_parcels(), P, rule_sets={**RULES, "wind": bigger})
    # 2 × 7.2 MW = 14.4 MW; × 2400 h = 34,560 MWh/a
    assert out.loc["pv_wind", "wind_mw"] == pytest.approx(14.4)
    assert out.loc["pv_wind", "wind_mwh_a"] == pytest.approx(34_560)
    assert out.loc["pv_wind", "pv_mwp"] == pytest.approx(10.0)  # other technologies untouched


def test_coppice_heat_substitution_and_carbon_by_hand():
    out = potential_central(_parcels(), P, rule_sets=RULES, options={"replaced_fuel": "heating_oil"})
    a = out.loc["alley"]
    planted = 2 + 0.2 * (20 - 2)  # riparian strip + 20 % tree strips on the rest
    assert a["coppice_planted_ha"] == pytest.approx(5.6)
    assert a["coppice_t_dm_a"] == pytest.approx(planted * 7)  # t DM/a
    heat = planted * 7 * 5.0 * 0.85  # t DM × MWh/t × efficiency = MWh heat/a
    assert a["heat_mwh_a"] == pytest.approx(heat)
    per_kwh = 310 / 0.92 - 24 / 0.85  # g CO2e per kWh heat: oil replaced, chip chain charged
    assert per_kwh == pytest.approx(309, abs=1)  # PARAMETERS.md: ≈ 309
    assert a["coppice_avoided_t_co2e_a"] == pytest.approx(heat * per_kwh / 1000)
    assert a["soil_sequestered_t_co2e_a"] == pytest.approx(planted * 0.24 * C_TO_CO2)  # alley rate
    stock = planted * 0.5 * 4 * 7 * 0.47 * 1.3 * C_TO_CO2  # one-off, t CO2e
    assert a["biomass_stock_t_co2e"] == pytest.approx(stock)
    assert a["sequestered_t_co2e_a"] == pytest.approx(a["soil_sequestered_t_co2e_a"])  # stock not a flow
    gas = potential_central(_parcels(), P, rule_sets=RULES, options={"replaced_fuel": "natural_gas"}).loc["alley"]
    assert gas["coppice_avoided_t_co2e_a"] / heat * 1000 == pytest.approx(225, abs=1)  # PARAMETERS.md ≈ 225


def test_grassland_gets_no_soil_credit_but_biomass():
    g = potential_central(_parcels(), P, rule_sets=RULES).loc["grass"]
    assert g["coppice_planted_ha"] == 4 and g["coppice_t_dm_a"] == pytest.approx(28)
    assert g["soil_sequestered_t_co2e_a"] == 0
    assert g["biomass_stock_t_co2e"] > 0


def test_zero_area_gives_zeros_not_nan():
    out = parcel_potential(_parcels(), rule_sets=RULES)
    assert not out.isna().any().any()
    assert (out.loc["empty"] == 0).all()


def test_low_central_high_ordered():
    out = parcel_potential(_parcels(), rule_sets=RULES)
    for col in [c for c in out.columns if not c.endswith(("_low", "_high"))]:
        assert (out[f"{col}_low"] <= out[col] + 1e-9).all(), col
        assert (out[col] <= out[f"{col}_high"] + 1e-9).all(), col
    r = out.loc["pv_wind"]
    # PV low: land need 1.2 ha/MWp, yield 950, avoided = grid mix 363, life cycle 63; high: UBA marginal 680
    assert r["pv_avoided_t_co2e_a_low"] == pytest.approx(10 / 1.2 * 950 * (363 - 63) / 1000)
    assert r["pv_avoided_t_co2e_a_high"] == pytest.approx(10 / 0.8 * 1150 * (680 - 32) / 1000)


def test_changed_parameter_file_changes_result(tmp_path):
    text = (PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "p.yaml"
    new_text = text.replace("coppice_yield_t_dm_ha_a: {value: 7,", "coppice_yield_t_dm_ha_a: {value: 9,")
    assert new_text != text  # the yield (t DM/ha/a) really changed
    changed.write_text(new_text, encoding="utf-8")
    base = parcel_potential(_parcels(), rule_sets=RULES)
    new = parcel_potential(_parcels(), rule_sets=RULES, params=potential_parameters(RULES, changed))
    assert new.loc["alley", "coppice_t_dm_a"] == pytest.approx(base.loc["alley", "coppice_t_dm_a"] * 9 / 7)
    assert np.allclose(new["pv_mwp"], base["pv_mwp"])


def _ranges_keeping_every_trial(compute, params):
    """The plain way: every trial kept whole (what :func:`with_ranges` must equal)."""
    runs = {}

    def run(values):
        return runs.setdefault(tuple(sorted(values.items())), compute(values))

    central_values = {k: p.value for k, p in params.items()}
    central = run(central_values)
    ranged = {k: p for k, p in params.items() if p.low != p.high}
    totals = {(k, end): run(dict(central_values, **{k: getattr(p, end)})).sum() for k, p in ranged.items()
              for end in ("low", "high")}
    out = central.copy()
    for col in central.columns:
        lo, hi = dict(central_values), dict(central_values)
        for k, p in ranged.items():
            a, b = totals[(k, "low")][col], totals[(k, "high")][col]
            if a != b:
                lo[k], hi[k] = (p.low, p.high) if a < b else (p.high, p.low)
        out[f"{col}_low"] = np.minimum(run(lo)[col], central[col])
        out[f"{col}_high"] = np.maximum(run(hi)[col], central[col])
    return out


def test_ranges_keep_only_the_columns_each_end_needs():
    from landuse.parameters import Parameter
    from landuse.potential import with_ranges

    rng = np.random.default_rng(7)
    area = pd.Series(rng.uniform(0.0, 30.0, 500), name="ha")
    area[::17] = np.nan
    params = {"yield": Parameter(10.0, 6.0, 14.0, "t/ha", "test", "sourced"),
              "loss": Parameter(0.1, 0.05, 0.3, "1", "test", "sourced"),
              "power": Parameter(5.0, 5.0, 7.0, "MW", "test", "sourced"),  # central at its low end
              "fixed": Parameter(2.0, 2.0, 2.0, "1", "test", "sourced")}
    calls = []

    def compute(v):
        calls.append(dict(v))
        return pd.DataFrame({"biomass_t_a": area * v["yield"] * (1 - v["loss"]),
                             "power_mw": area * v["power"] * v["fixed"],
                             "mixed_t_a": area * v["yield"] * v["power"] / (1 + v["loss"]),
                             "constant_ha": area * v["fixed"]})

    got = with_ranges(compute, params)
    sets = [tuple(sorted(c.items())) for c in calls]
    expected = _ranges_keeping_every_trial(compute, params)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.loc[1, "biomass_t_a_low"] == pytest.approx(area[1] * 6.0 * 0.7)
    assert got.loc[1, "mixed_t_a_high"] == pytest.approx(area[1] * 14.0 * 7.0 / 1.05)
    assert (got["constant_ha_low"].dropna() == got["constant_ha"].dropna()).all()
    # central, five one-parameter trials (power's low end is the central set) and three sets of
    # two parameters at once (the biomass ends, the mixed column's high end): each computed once
    assert len(sets) == 9 and len(set(sets)) == 9


def test_a_technology_is_recomputed_only_when_a_value_it_reads_moves(monkeypatch):
    from landuse import technologies

    pv = technologies.get("pv")
    calls = []
    real = type(pv).potential

    def counted(self, scored, values, **kw):
        calls.append(self.name)  # not the values: reading them all would make PV depend on every one
        return real(self, scored, values, **kw)

    monkeypatch.setattr(type(pv), "potential", counted)
    rules = {"pv": RULES["pv"], "agroforestry": RULES["agroforestry"]}
    reuse: dict = {}
    central = potential_central(_parcels(), P, rule_sets=rules, reuse=reuse)
    # a coppice parameter moves: PV's first result again, and the same frame as without reuse
    coppice = dict(P, coppice_yield_t_dm_ha_a=9.0)
    moved = potential_central(_parcels(), coppice, rule_sets=rules, reuse=reuse)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(moved, potential_central(_parcels(), coppice, rule_sets=rules), check_exact=True)
    assert moved.loc["alley", "coppice_t_dm_a"] == pytest.approx(central.loc["alley", "coppice_t_dm_a"] * 9 / 7)
    # a PV parameter moves: PV is computed anew (10 ha / 2 ha per MWp = 5 MWp)
    calls.clear()
    denser = potential_central(_parcels(), dict(P, pv_land_need_ha_per_mwp=2.0), rule_sets=rules, reuse=reuse)
    assert calls == ["pv"]
    assert denser.loc["pv_wind", "pv_mwp"] == pytest.approx(5.0)
    assert central.loc["pv_wind", "pv_mwp"] == pytest.approx(10.0)
    # with every range: the same figures with and without reuse, PV computed once per set of its values
    calls.clear()
    params = potential_parameters(rules)
    ranged = parcel_potential(_parcels(), rule_sets=rules, params=params)
    reused_calls = len(calls)
    monkeypatch.setattr("landuse.potential._technology_potential",
                        lambda name, scored, values, *, rules, options, reuse: technologies.get(name).potential(
                            scored, values, rules=rules, options=options))
    calls.clear()
    pd.testing.assert_frame_equal(ranged, parcel_potential(_parcels(), rule_sets=rules, params=params),
                                  check_exact=True)
    assert reused_calls < len(calls)
