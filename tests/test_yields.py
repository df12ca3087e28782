"""Energy yields (landuse.yields): wind profile, power curve, Weibull full-load hours, PV specific
yield — each against a hand calculation."""

import math

import numpy as np
import pytest

from landuse import yields


def test_log_profile_hand_calculation():
    # v(167) = 7.0 × ln(167 / 0.1) / ln(100 / 0.1)
    assert yields.hub_height_speed(7.0, hub_height_m=167, roughness_length_m=0.1) == pytest.approx(
        7.0 * math.log(1670) / math.log(1000))


def test_scaled_power_curve_keeps_rated_power_and_specific_power():
    v, p = yields.power_curve(rated_power_mw=5.56, rotor_diameter_m=160)
    assert p.max() == pytest.approx(5.56)
    lib_v, lib_p = yields.power_curve(rated_power_mw=4.2, rotor_diameter_m=141)  # the library turbine itself
    assert lib_p.max() == pytest.approx(4.2)
    # wind speeds scale with the cube root of the specific powers (277 vs 269 W/m²)
    ratio = (5.56e6 / (math.pi * 80 ** 2)) / (4.2e6 / (math.pi * 70.5 ** 2))
    assert v[10] / lib_v[10] == pytest.approx(ratio ** (1 / 3))


def test_full_load_hours_against_a_hand_integration():
    # a toy power curve: 0 below 3 m/s, linear to 2 MW at 12 m/s, flat to 25 m/s
    speeds = np.array([0.0, 3.0, 12.0, 25.0, 25.01])
    power = np.array([0.0, 0.0, 2.0, 2.0, 0.0])
    k, mean = 2.0, 7.0
    a = mean / math.gamma(1 + 1 / k)
    # hand integration with the Weibull CDF: E[P] = ∫ P dF, by the trapezoid rule on 1 mm/s steps
    x = np.arange(0, 40, 0.001)
    pdf = k / a * (x / a) ** (k - 1) * np.exp(-(x / a) ** k)
    expected = np.trapezoid(np.interp(x, speeds, power, right=0.0) * pdf, x) / 2.0 * 8760
    got = yields.weibull_full_load_hours(mean, speeds, power, rated_power_mw=2.0, weibull_k=k)
    assert got[0] == pytest.approx(expected, rel=2e-3)
    # losses scale it; NaN speed stays NaN
    lossy = yields.weibull_full_load_hours([mean, np.nan], speeds, power, rated_power_mw=2.0, weibull_k=k,
                                           losses=0.1)
    assert lossy[0] == pytest.approx(0.9 * got[0]) and np.isnan(lossy[1])


def test_constant_speed_gives_the_same_hours_everywhere_and_more_wind_more_hours():
    v, p = yields.power_curve(rated_power_mw=5.56, rotor_diameter_m=160)
    flh = yields.weibull_full_load_hours([6.0, 6.0, 7.0, 8.0], v, p, rated_power_mw=5.56, weibull_k=2.0)
    assert flh[0] == flh[1] and flh[1] < flh[2] < flh[3]
    assert 2000 < flh[2] < 4500  # a modern low-wind turbine at 7 m/s


def test_pv_specific_yield_hand_calculation():
    got = yields.pv_specific_yield(np.array([1245.0, 1200.0]), long_term_factor=0.9, plane_gain=1.13,
                                   performance_ratio=0.85)
    assert got == pytest.approx([1245 * 0.9 * 1.13 * 0.85, 1200 * 0.9 * 1.13 * 0.85])
