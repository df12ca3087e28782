"""The wood-chip value chain of a village heating network, against a hand computation."""

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from landuse.criteria import load_rule_sets
from landuse.potential import parcel_potential
from landuse.woodchips import woodchip_chain

#: The default rule sets of every technology.
RULES = load_rule_sets()


def test_woodchip_chain_by_hand():
    parcels = gpd.GeoDataFrame({"class": "arable", "agroforestry_eligible_ha": [10.0, 50.0, 100.0],
                                "agroforestry_layout": "coppice"},
                               geometry=[box(1000, 0, 1100, 100), box(3000, 0, 3100, 100), box(9000, 0, 9100, 100)],
                               crs="EPSG:25833", index=["near", "mid", "far"])
    pot = parcel_potential(parcels, rule_sets=RULES)
    assert list(pot["coppice_planted_ha"]) == pytest.approx([10.0, 50.0, 100.0])  # coppice: the whole eligible area
    res = woodchip_chain(parcels, pot, Point(0, 0), heat_demand_mwh_a=1000)
    t_dm = 1000 / 0.85 / 5.0  # MWh heat → MWh fuel → t DM
    assert res["t_dm_a"] == pytest.approx(t_dm)
    assert res["area_needed_ha"] == pytest.approx(t_dm / 7)  # 33.6 ha: the near and the mid parcel
    assert res["supplying_parcels"] == ["near", "mid"]
    assert res["supplied_share"] == 1
    # area-weighted straight distance (1 km for 10 ha, 3 km for 23.6 ha) × detour 1.3
    mean = (1.0 * 10 + 3.0 * (t_dm / 7 - 10)) / (t_dm / 7) * 1.3
    assert res["mean_transport_km"] == pytest.approx(mean)
    fp = res["footprint"]
    transport = 2.0 * mean * 100 / 5000  # t fresh/t DM × km × g/tkm / kWh per t DM
    assert fp.loc["transport", "g_co2e_per_kwh_fuel"] == pytest.approx(transport)
    assert fp.loc["total", "g_co2e_per_kwh_fuel"] == pytest.approx(7 + 9 + 4 + 3 + transport)
    assert fp.loc["total", "g_co2e_per_kwh_heat"] == pytest.approx((23 + transport) / 0.85)
    assert res["saving_t_co2e_a"] == pytest.approx(1000 * (310 / 0.92 - (23 + transport) / 0.85) / 1000)


def test_demand_and_site_are_checked(tiny_layers):
    from landuse.errors import ConfigError, DataError
    from landuse.woodchips import heating_site

    parcels = gpd.GeoDataFrame({"class": "arable", "agroforestry_eligible_ha": [10.0]},
                               geometry=[box(1000, 0, 1100, 100)], crs="EPSG:25833", index=["p"])
    pot = parcel_potential(parcels, rule_sets=RULES)
    for demand in (-2000, 0, float("nan")):
        with pytest.raises(ConfigError, match=r"^Heat demand .* MWh/a: give the network's yearly heat demand as a "
                                              r"positive number"):
            woodchip_chain(parcels, pot, Point(0, 0), heat_demand_mwh_a=demand)
    with pytest.raises(DataError) as err:  # mid-Atlantic: lon -30, lat 10
        heating_site("-30,10", parcels, tiny_layers)
    assert str(err.value).startswith("Heating site '-30,10' lies ") and "km from the region (at most 10 km)" in str(
        err.value)
    near = heating_site("Nordheim", parcels, tiny_layers)  # a municipality's name: inside the region
    assert tiny_layers["boundaries"].geometry.union_all().distance(near) == 0
