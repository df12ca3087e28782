"""Allocation: one hectare, one use. Synthetic parcels whose optimum is computed by hand, each
constraint holding in the solution, the priority order, an infeasible target, and the parts
drawn without overlap between uses that exclude each other."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from landuse import schema
from landuse.allocation import allocate, claims, cut_to_area, incompatible, load_allocation, realistic_potential
from landuse.config import WORKING_CRS
from landuse.criteria import load_rule_sets
from landuse.errors import ConfigError

RULES = load_rule_sets()
SRC = {"unit": "-", "status": "EST", "source": "test"}
PV_T_PER_HA, AF_T_PER_HA, WIND_T_PER_TURBINE = 300.0, 30.0, 10_000.0


def _entry(value):
    return {"value": value, **SRC}


def _config(**constraints):
    raw = {"compatible": [{"uses": ["wind", "agroforestry"], **{k: SRC[k] for k in ("status", "source")}}],
           "method": constraints.pop("method", "optimise"), "priority": constraints.pop("priority", []),
           "constraints": constraints}
    return schema.validate(schema.AllocationConfig, raw, path="test")


def _case(with_wind=False):
    """Three 10 ha arable parcels in municipality A: p1 and p2 eligible for PV and agroforestry,
    p3 for agroforestry only; optionally p4 (2 ha) eligible for PV and wind with two turbines."""
    geoms = [box(0, 0, 1000, 100), box(0, 200, 1000, 300), box(0, 400, 1000, 500)]
    ids = ["p1", "p2", "p3"]
    pv = [10.0, 10.0, 0.0]
    if with_wind:
        geoms.append(box(0, 600, 200, 700))
        ids.append("p4")
        pv.append(2.0)
    n = len(ids)
    af = [10.0, 10.0, 10.0] + [0.0] * (n - 3)
    turbines = [0] * 3 + [2] * (n - 3)
    scored = gpd.GeoDataFrame({"municipality": "A", "class": "arable", "area_ha": [g.area / 1e4 for g in geoms],
                               "pv_eligible_ha": pv, "agroforestry_eligible_ha": af, "wind_turbines": turbines,
                               "wind_eligible_ha": [2.0 * (t > 0) for t in turbines],
                               "pv_score": 80.0, "agroforestry_score": 60.0, "wind_score": 70.0},
                              geometry=geoms, crs=WORKING_CRS, index=pd.Index(ids, name="parcel_id"))
    potential = pd.DataFrame({"pv_avoided_t_co2e_a": np.array(pv) * PV_T_PER_HA,
                              "pv_mwh_a": np.array(pv) * 1000.0,
                              "coppice_avoided_t_co2e_a": np.array(af) * AF_T_PER_HA,
                              "coppice_planted_ha": np.array(af) * 0.2,
                              "wind_avoided_t_co2e_a": np.array(turbines) * WIND_T_PER_TURBINE,
                              "wind_turbines": turbines}, index=scored.index)

    def frame(ha):
        keep = [i for i, h in enumerate(ha) if h > 0]
        return gpd.GeoDataFrame({"parcel_id": [ids[i] for i in keep], "eligible_ha": [ha[i] for i in keep]},
                                geometry=[geoms[i] for i in keep], crs=WORKING_CRS)

    results = {"pv_eligible": frame(pv), "agroforestry_eligible": frame(af),
               "wind_eligible": frame([2.0 * (t > 0) for t in turbines])}
    points = [Point(50, 650), Point(150, 650)] if with_wind else []
    results["wind_turbines"] = gpd.GeoDataFrame({"turbine_id": [f"WT{i + 1}" for i in range(len(points))],
                                                 "parcel_id": ["p4"] * len(points)}, geometry=points, crs=WORKING_CRS)
    return scored, potential, results


def _run(config, with_wind=False, area=100.0):
    scored, potential, results = _case(with_wind)
    units, parts = allocate(scored, potential, results, rule_sets=RULES, config=config,
                            municipal_area_ha={"A": area})
    return scored, potential, results, units, parts


def _objective(units):
    return (units["pv"].sum() * PV_T_PER_HA + units["agroforestry"].sum() * AF_T_PER_HA
            + units["wind"].sum() * WIND_T_PER_TURBINE)


def test_optimum_by_hand_pv_cap():
    # PV is worth 10× agroforestry per ha but capped at 5 % of 100 ha: 5 ha PV, the other 25 ha agroforestry
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.05)}})
    *_, units, parts = _run(cfg)
    assert units["pv"].sum() == pytest.approx(5.0, abs=1e-3)
    assert units["agroforestry"].sum() == pytest.approx(25.0, abs=1e-3)
    assert _objective(units) == pytest.approx(5 * 300 + 25 * 30, rel=1e-4)


def test_farmland_floor_holds():
    # 80 % of the 30 ha arable land stays in food production: at most 6 ha lost. PV loses 1 ha per ha,
    # alley cropping 0.2 ha per ha; PV earns 300 t per lost ha, agroforestry 150: PV 5 ha (cap), AF 5 ha
    cfg = _config(farmland_floor=_entry(0.8), technologies={"pv": {"max_share_of_area": _entry(0.05)}})
    *_, units, _parts = _run(cfg)
    lost = units["pv"].sum() * 1.0 + units["agroforestry"].sum() * 0.2
    assert lost <= 6.0 + 1e-6
    assert units["pv"].sum() == pytest.approx(5.0, abs=1e-3)
    assert units["agroforestry"].sum() == pytest.approx(5.0, abs=1e-3)


def test_adoption_share_holds():
    cfg = _config(technologies={"pv": {"max_ha": _entry(0.0)}, "agroforestry": {"max_share_of_eligible": _entry(0.25)}})
    *_, units, _parts = _run(cfg)
    assert units["pv"].sum() == pytest.approx(0.0, abs=1e-6)
    assert units["agroforestry"].sum() == pytest.approx(0.25 * 30, abs=1e-3)


def test_one_use_per_hectare_in_the_parts():
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.15)}})
    scored, _, _, units, parts = _run(cfg)
    assert units["pv"].sum() == pytest.approx(15.0, abs=1e-3)  # p1 whole, half of p2
    pv = parts[parts["use"] == "pv"].set_index("parcel_id")
    af = parts[parts["use"] == "agroforestry"].set_index("parcel_id")
    both = pv.index.intersection(af.index)
    assert shapely.area(shapely.intersection(pv.loc[both].geometry.values, af.loc[both].geometry.values)).sum() < 1.0
    # the parts measure what the table says and stay in their parcel
    assert pv["ha"].sum() == pytest.approx(units["pv"].sum(), abs=1e-3)
    for pid, row in parts.set_index("parcel_id").iterrows():
        assert shapely.area(shapely.difference(row.geometry, scored.loc[pid, "geometry"])) < 1.0
    # each parcel's uses fill at most the parcel
    used = parts.groupby("parcel_id")["ha"].sum()
    assert (used <= scored.loc[used.index, "area_ha"] + 1e-6).all()


def test_wind_and_pv_exclude_each_other():
    # p4: 2 ha for PV or wind; two turbines take 0.5 ha each and are worth far more: PV gets the other 1 ha
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.5)}})
    *_, units, parts = _run(cfg, with_wind=True)
    assert units.loc["p4", "wind"] == 2
    assert units.loc["p4", "pv"] == pytest.approx(1.0, abs=0.02)
    pv = parts[(parts["use"] == "pv") & (parts["parcel_id"] == "p4")].geometry.iloc[0]
    wind = parts[(parts["use"] == "wind") & (parts["parcel_id"] == "p4")].geometry.iloc[0]
    assert pv.intersection(wind).area < 1.0
    assert wind.area / 1e4 == pytest.approx(1.0, rel=0.01)  # two footprints of 0.5 ha


def test_wind_kept_out_of_excluded_classes():
    scored, potential, results = _case(with_wind=True)
    scored.loc["p4", "class"] = "forest"
    cfg = _config(technologies={"wind": {"exclude_classes": ["forest"]}})
    units, _ = allocate(scored, potential, results, rule_sets=RULES, config=cfg, municipal_area_ha={"A": 100})
    assert units["wind"].sum() == 0


def test_priority_order():
    # agroforestry first takes every hectare it can; PV afterwards finds none left on p1 and p2
    cfg = _config(method="priority", priority=[{"technology": "agroforestry"}, {"technology": "pv"}],
                  technologies={"pv": {"max_share_of_area": _entry(0.5)}})
    *_, units, _parts = _run(cfg)
    assert units["agroforestry"].sum() == pytest.approx(30.0, abs=1e-3)
    assert units["pv"].sum() == pytest.approx(0.0, abs=1e-3)
    cfg = _config(method="priority", priority=[{"technology": "pv", "where": "pv_eligible_ha > 0"},
                                               {"technology": "agroforestry"}],
                  technologies={"pv": {"max_share_of_area": _entry(0.05)}})
    *_, units, _parts = _run(cfg)
    assert units["pv"].sum() == pytest.approx(5.0, abs=1e-3) and units["agroforestry"].sum() == pytest.approx(25.0)


def test_infeasible_target_names_the_constraint():
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.05), "min_ha": _entry(50.0)}})
    with pytest.raises(ConfigError) as err:
        _run(cfg)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("Allocation infeasible in A: constraint pv.min_ha = 50.0 ha cannot be met")
    assert "at most 5.0 ha" in message


def test_wind_area_target_takes_land_from_pv_as_far_as_the_wind_areas_allow():
    # by score × ha PV beats the two turbines on p4 (2 ha PV × 80 against 2 × 0.5 ha × 70)
    cfg = _config().model_copy(update={"objective": "score_area"})
    *_, units, _ = _run(cfg, with_wind=True)
    assert units.loc["p4", "wind"] == 0 and units.loc["p4", "pv"] == pytest.approx(2.0, abs=1e-6)
    # WindBG-style target: 2 % of the 100 ha municipality in wind areas = p4's whole wind area (2 ha, 2 turbines)
    cfg = _config(technologies={"wind": {"min_share_of_area": _entry(0.02)}}).model_copy(
        update={"objective": "score_area"})
    *_, units, _ = _run(cfg, with_wind=True)
    assert units.loc["p4", "wind"] == 2 and units.loc["p4", "pv"] == pytest.approx(1.0, abs=1e-5)  # 2 − 2 × 0.5 ha
    # a target beyond the wind areas there are (50 %) takes all of them and is not infeasible
    cfg = _config(technologies={"wind": {"min_share_of_area": _entry(0.5)}}).model_copy(
        update={"objective": "score_area"})
    *_, units, _ = _run(cfg, with_wind=True)
    assert units.loc["p4", "wind"] == 2


def test_realistic_at_most_technical():
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.05)}})
    scored, potential, results, units, _ = _run(cfg)
    available = claims(scored, potential, results, rule_sets=RULES).units
    real = realistic_potential(potential, available, units)
    for col in potential.columns:
        assert (real[col] <= potential[col] + 1e-9).all(), col
    assert real["pv_avoided_t_co2e_a"].sum() == pytest.approx(5 * PV_T_PER_HA, rel=1e-4)


def test_cut_to_area():
    part = cut_to_area(box(0, 0, 100, 50), 1000.0)
    assert part.area == pytest.approx(1000.0, rel=1e-6) and part.bounds[0] == 0


def test_default_settings_and_compatibility():
    cfg = load_allocation()
    sets = incompatible(cfg, ["wind", "pv", "agroforestry"])
    assert ("wind", "pv") in sets and ("pv", "agroforestry") in sets and ("wind", "agroforestry") not in sets
    assert cfg.constraints.technologies["wind"].exclude_classes == ["forest"]


def test_region_overrides_and_typos(tmp_path, tiny_region):
    from landuse.config import load_region

    cfg_path, _ = tiny_region
    text = cfg_path.read_text(encoding="utf-8")
    mine = tmp_path / "r.yaml"
    mine.write_text(text + "allocation:\n  municipalities:\n    Nordheim:\n      technologies:\n        pv:\n"
                    "          max_share_of_area: {value: 0.02, unit: share, status: EST, source: council}\n",
                    encoding="utf-8")
    cfg = load_allocation(load_region(mine))
    assert cfg.municipalities["Nordheim"].technologies["pv"].max_share_of_area.value == 0.02
    mine.write_text(text + "allocation:\n  municipalities:\n    Nordhaim: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown municipality 'Nordhaim'; did you mean 'Nordheim'"):
        load_allocation(load_region(mine))


def test_per_municipality_constraints_and_parts():
    # p2 lies in municipality B: each municipality gets its own 5 % PV cap (5 ha of 100 ha)
    scored, potential, results = _case()
    scored.loc["p2", "municipality"] = "B"
    cfg = _config(technologies={"pv": {"max_share_of_area": _entry(0.05)}})
    units, parts = allocate(scored, potential, results, rule_sets=RULES, config=cfg,
                            municipal_area_ha={"A": 100.0, "B": 100.0})
    assert units.loc["p1", "pv"] == pytest.approx(5.0, abs=1e-3) and units.loc["p2", "pv"] == pytest.approx(5.0)
    assert units.loc["p1", "agroforestry"] == pytest.approx(5.0, abs=1e-3)  # the rest of p1
    assert units.loc["p2", "agroforestry"] == pytest.approx(5.0, abs=1e-3)  # the rest of p2
    assert units.loc["p3", "agroforestry"] == pytest.approx(10.0, abs=1e-3)
    for pid in ("p1", "p2"):
        pv = parts[(parts["parcel_id"] == pid) & (parts["use"] == "pv")].geometry.iloc[0]
        af = parts[(parts["parcel_id"] == pid) & (parts["use"] == "agroforestry")].geometry.iloc[0]
        assert pv.intersection(af).area < 1.0 and (pv.area + af.area) / 1e4 == pytest.approx(10.0, abs=1e-3)
