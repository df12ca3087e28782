"""Energy yields from the resource rasters: wind full-load hours per turbine from the mean wind
speed, PV specific yield per parcel from the global irradiation.

Wind: the mean speed at 100 m is carried to hub height by the logarithmic wind profile, taken
as the mean of a Weibull distribution of declared shape, and run through the power curve of
the reference turbine; wake and availability losses are declared. PV: the irradiation on the
horizontal, corrected to the long-term level, times a declared gain for the tilted module
plane and the performance ratio. Every number used comes from the rule set or the parameter
file, with its source.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from landuse.errors import ConfigError

log = logging.getLogger(__name__)

#: windpowerlib's turbine library (OpenEnergy database, shipped with the package) has no power curve
#: of the reference turbine (Enercon E-160 EP5, 5.56 MW, 160 m); of the curves it has, the Enercon
#: E-141 EP4 (4.2 MW, 141 m) comes closest in specific power (269 against 277 W/m²), and its curve
#: is scaled to the reference's rated power and specific power.
LIBRARY_TURBINE = "E-141/4200"

HOURS_PER_YEAR = 8760.0


def hub_height_speed(v_ref: np.ndarray | float, *, hub_height_m: float, reference_height_m: float = 100.0,
                     roughness_length_m: float) -> np.ndarray:
    """Mean wind speed at hub height by the logarithmic profile.

    ``v_hub = v_ref × ln(h_hub / z0) / ln(h_ref / z0)``.

    Parameters
    ----------
    v_ref : array-like
        Mean wind speed (m/s) at ``reference_height_m``.
    hub_height_m, reference_height_m, roughness_length_m : float
        Heights above ground and the roughness length z0 (m).

    Returns
    -------
    ndarray
        Mean speed (m/s) at hub height.
    """
    factor = math.log(hub_height_m / roughness_length_m) / math.log(reference_height_m / roughness_length_m)
    return np.asarray(v_ref, dtype=float) * factor


@lru_cache(maxsize=8)
def _library_curve(turbine_type: str) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    import windpowerlib

    # the library's own files, read directly: no download (WindTurbine() asks the OpenEnergy database)
    oedb = Path(windpowerlib.__file__).parent / "oedb"
    curves = pd.read_csv(oedb / "power_curves.csv", index_col="turbine_type")
    if turbine_type not in curves.index:
        raise ConfigError(f"wind power curve: turbine type {turbine_type!r} is not in windpowerlib's library "
                          f"({oedb / 'power_curves.csv'}); pick one listed there.")
    curve = curves.loc[turbine_type].dropna()
    table = pd.read_csv(oedb / "turbine_data.csv", index_col="turbine_type")
    rated_w = float(table.loc[turbine_type, "nominal_power"])
    rotor_m = float(table.loc[turbine_type, "rotor_diameter"])
    return (tuple(curve.index.astype(float)), tuple(curve.to_numpy(float)), rated_w, rotor_m)


def power_curve(*, rated_power_mw: float, rotor_diameter_m: float,
                library_turbine: str = LIBRARY_TURBINE) -> tuple[np.ndarray, np.ndarray]:
    """Power curve of the reference turbine: a library curve scaled to its rated power and rotor.

    Power scales with the rated power; wind speeds scale with the cube root of the ratio of
    specific powers (rated power per swept area), so that the scaled turbine reaches its rated
    power where its rotor would.

    Parameters
    ----------
    rated_power_mw, rotor_diameter_m : float
        The reference turbine.
    library_turbine : str
        A turbine type of windpowerlib's library (default :data:`LIBRARY_TURBINE`).

    Returns
    -------
    (ndarray, ndarray)
        Wind speeds (m/s) and electric power (MW).
    """
    speeds, power_w, lib_rated_w, lib_rotor_m = _library_curve(library_turbine)
    sp_ref = rated_power_mw * 1e6 / (math.pi * rotor_diameter_m ** 2 / 4)
    sp_lib = lib_rated_w / (math.pi * lib_rotor_m ** 2 / 4)
    v = np.asarray(speeds) * (sp_ref / sp_lib) ** (1 / 3)
    p = np.asarray(power_w) / lib_rated_w * rated_power_mw
    return v, p


def weibull_full_load_hours(mean_speed: np.ndarray | float, speeds: np.ndarray, power_mw: np.ndarray, *,
                            rated_power_mw: float, weibull_k: float, losses: float = 0.0) -> np.ndarray:
    """Full-load hours per year of a turbine at sites of given mean wind speed.

    The speed follows a Weibull distribution with shape ``weibull_k`` and the scale that gives
    the mean (``A = mean / Γ(1 + 1/k)``); the expected power is the power curve integrated over
    it (0.05 m/s steps, linear between curve points, zero beyond the last point).

    Parameters
    ----------
    mean_speed : array-like
        Mean wind speed (m/s) at hub height.
    speeds, power_mw : ndarray
        The power curve.
    rated_power_mw, weibull_k : float
    losses : float
        Share of the energy lost (wakes, availability), 0–1.

    Returns
    -------
    ndarray
        Full-load hours (h/a); NaN where the mean speed is NaN.
    """
    mean = np.atleast_1d(np.asarray(mean_speed, dtype=float))
    v = np.arange(0.025, 40.0, 0.05)
    p = np.interp(v, speeds, power_mw, left=0.0, right=0.0)
    scale = mean / math.gamma(1 + 1 / weibull_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = v[None, :] / scale[:, None]
        pdf = weibull_k / scale[:, None] * x ** (weibull_k - 1) * np.exp(-x ** weibull_k)
    expected = (pdf * p[None, :]).sum(axis=1) * 0.05
    return expected / rated_power_mw * HOURS_PER_YEAR * (1 - losses)


def pv_specific_yield(irradiation_kwh_m2_a: np.ndarray | pd.Series, *, long_term_factor: float,
                      plane_gain: float, performance_ratio: float) -> np.ndarray:
    """Specific PV yield (kWh/kWp/a) from the global irradiation on the horizontal.

    ``yield = G_h × long-term factor × plane gain × PR`` (a kWp gives 1 kWh per kWh/m² on the
    module plane at standard test conditions).

    Parameters
    ----------
    irradiation_kwh_m2_a : array-like
        Global irradiation on the horizontal (kWh/m²/a) of the raster's year.
    long_term_factor : float
        The long-term level relative to the raster's year.
    plane_gain : float
        Irradiation on the module plane relative to the horizontal.
    performance_ratio : float

    Returns
    -------
    ndarray
        kWh/kWp/a.
    """
    return np.asarray(irradiation_kwh_m2_a, dtype=float) * long_term_factor * plane_gain * performance_ratio
