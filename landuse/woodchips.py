"""Wood-chip value chain of a village heating network: which coppice parcels nearest the
network supply its demand, the transport distance, and the footprint by stage against the
fossil heat it replaces."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.errors import ConfigError, DataError
from landuse.parameters import PARAMETER_DIR, Parameter, load_parameters
from landuse.potential import FUELS, fossil_heat_g_per_kwh

#: A heating site farther from the region than this is a typo (swapped coordinates, wrong CRS).
MAX_SITE_DISTANCE_KM = 10.0


def heating_site(location: str | tuple[float, float], parcels: gpd.GeoDataFrame, layers) -> shapely.Point:
    """A heating network's location (EPSG:25833).

    Parameters
    ----------
    location : str or tuple
        "x,y" in EPSG:25833, "lon,lat", a tuple, or a municipality name (the centre of its
        largest residential area).
    parcels : GeoDataFrame
        Parcels (for the CRS).
    layers : LayerSet
        Canonical layers (boundaries and land cover for a name).
    """
    if isinstance(location, tuple):
        x, y = location
    else:
        parts = [s.strip() for s in str(location).split(",")]
        try:
            x, y = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            x = y = None
        if x is None:
            b = layers["boundaries"]
            hit = b[b["name"].str.casefold() == str(location).casefold()]
            if hit.empty:
                raise DataError(f"Heating site '{location}': not 'x,y', 'lon,lat' or a municipality of the region "
                                f"({', '.join(b['name'])}).")
            lc = layers["landcover"]
            res = lc[(lc["class"] == "residential") & lc.intersects(hit.geometry.iloc[0])]
            geom = res.geometry.iloc[int(np.argmax(res.geometry.area))] if len(res) else hit.geometry.iloc[0]
            return shapely.point_on_surface(geom)
    if abs(x) <= 180 and abs(y) <= 90:
        point = gpd.GeoSeries([shapely.Point(x, y)], crs="EPSG:4326").to_crs(parcels.crs).iloc[0]
    else:
        point = shapely.Point(x, y)
    region = layers["boundaries"].geometry.union_all()
    km = region.distance(point) / 1000
    if km > MAX_SITE_DISTANCE_KM:
        raise DataError(f"Heating site '{location}' lies {km:,.0f} km from the region (at most "
                        f"{MAX_SITE_DISTANCE_KM:g} km): give 'x,y' in EPSG:25833, 'lon,lat' or a municipality name "
                        f"({', '.join(layers['boundaries']['name'])}).")
    return point


def woodchip_chain(parcels: gpd.GeoDataFrame, potential: pd.DataFrame, site: shapely.Point, *,
                   heat_demand_mwh_a: float, params: dict[str, Parameter] | None = None,
                   chain: dict[str, Parameter] | None = None, fuel: str = "heating_oil") -> dict:
    """Supply a heating network's demand with wood chips from the nearest coppice potential.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels (EPSG:25833) indexed by parcel id.
    potential : DataFrame
        Potential per parcel (``coppice_planted_ha``), same index.
    site : Point
        The heating network (EPSG:25833), e.g. from :func:`heating_site`.
    heat_demand_mwh_a : float
        Heat the network delivers (MWh/a).
    params, chain : dict, optional
        Potential parameters and value-chain stages (default files).
    fuel : {"heating_oil", "natural_gas"}
        Fossil fuel replaced.

    Returns
    -------
    dict
        ``area_needed_ha``, ``t_dm_a``, ``supplying_parcels`` (ids nearest first),
        ``mean_transport_km`` (road distance, area-weighted), ``footprint`` (DataFrame:
        g CO2e per kWh of heat by stage), ``fossil_g_per_kwh_heat``, ``saving_t_co2e_a``,
        ``supplied_share`` (1 when the region's potential suffices).
    """
    if fuel not in FUELS:
        raise ConfigError(f"Replaced fuel must be one of {', '.join(FUELS)}, got {fuel!r}.")
    if not np.isfinite(heat_demand_mwh_a) or heat_demand_mwh_a <= 0:
        raise ConfigError(f"Heat demand {heat_demand_mwh_a:g} MWh/a: give the network's yearly heat demand as a "
                          "positive number (e.g. --demand 2000).")
    p = {k: v.value for k, v in (params or load_parameters(PARAMETER_DIR / "potential.yaml")).items()}
    c = {k: v.value for k, v in (chain or load_parameters(PARAMETER_DIR / "woodchips.yaml")).items()}
    eff = p["chip_boiler_efficiency"]
    fuel_mwh = heat_demand_mwh_a / eff
    t_dm = fuel_mwh / p["heating_value_kwh_per_kg_dm"]
    area = t_dm / p["coppice_yield_t_dm_ha_a"]
    planted = potential["coppice_planted_ha"]
    dist_km = pd.Series(shapely.distance(parcels.geometry.values, site) / 1000, index=parcels.index)
    order = dist_km[planted > 0].sort_values(kind="stable").index
    cum = planted[order].cumsum()
    n = int(np.searchsorted(cum.to_numpy(), area)) + 1
    chosen = order[:n]
    take = planted[chosen].copy()
    if len(take) and cum.iloc[min(n, len(cum)) - 1] > area:
        take.iloc[-1] -= cum.iloc[n - 1] - area
    supplied = float(take.sum())
    mean_km = float((dist_km[chosen] * take).sum() / supplied) * c["detour_factor"] if supplied else np.nan
    transport = (c["fresh_mass_per_dm"] * mean_km * c["truck_g_co2e_per_tkm"]
                 / (p["heating_value_kwh_per_kg_dm"] * 1000)) if supplied else np.nan  # g per kWh fuel
    stages = {
        "cultivation": c["cultivation_g_co2e_per_kwh_fuel"],
        "harvest_and_chipping": c["harvest_chipping_g_co2e_per_kwh_fuel"],
        "transport": transport,
        "drying_and_storage": c["drying_storage_g_co2e_per_kwh_fuel"],
        "combustion": c["combustion_g_co2e_per_kwh_fuel"],
    }
    footprint = pd.DataFrame({"g_co2e_per_kwh_fuel": stages})
    footprint["g_co2e_per_kwh_heat"] = footprint["g_co2e_per_kwh_fuel"] / eff
    footprint.loc["total"] = footprint.sum()
    fossil = fossil_heat_g_per_kwh(p, fuel)
    share = min(supplied / area, 1.0) if area else 1.0
    saving = heat_demand_mwh_a * share * (fossil - footprint.loc["total", "g_co2e_per_kwh_heat"]) / 1000
    return {
        "heat_demand_mwh_a": heat_demand_mwh_a, "fuel_mwh_a": fuel_mwh, "t_dm_a": t_dm, "area_needed_ha": area,
        "supplying_parcels": list(chosen), "supplied_share": share, "mean_transport_km": mean_km,
        "footprint": footprint, "fossil_g_per_kwh_heat": fossil, "replaced_fuel": fuel, "saving_t_co2e_a": saving,
    }


__all__ = ["heating_site", "woodchip_chain"]
