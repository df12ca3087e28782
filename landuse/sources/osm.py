"""OpenStreetMap through osmnx, online or from a local ``.osm`` file.

Both paths return the same osmnx feature table and go through one tag→class mapping
(:func:`classify_osm`), so a layer store built online and one built from a file agree.
The class tables here are also used by the OpenMapTiles adapter: OpenMapTiles classes are
OSM tag values grouped, so one vocabulary serves both.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

#: One tag set for everything the canonical layers need.
OSM_TAGS: dict[str, bool | list[str]] = {
    "landuse": True,
    "natural": ["wood", "grassland", "heath", "scrub", "water", "wetland", "sand", "beach"],
    "leisure": ["park", "garden", "nature_reserve", "pitch", "golf_course", "recreation_ground"],
    "building": True,
    "highway": True,
    "railway": ["rail", "light_rail", "narrow_gauge", "tram", "subway"],
    "waterway": ["river", "stream", "canal", "ditch", "drain", "riverbank"],
    "water": True,
    "boundary": ["protected_area", "national_park"],
    "aeroway": ["aerodrome", "helipad", "navigationaid", "runway", "heliport"],
    "power": ["line", "minor_line", "cable", "generator", "plant"],
}

#: Land-cover subclass (OSM landuse/natural/leisure value, OpenMapTiles class or subclass)
#: → canonical land-cover class. Anything not listed is "other".
LANDCOVER_CLASSES: dict[str, str] = {
    "farmland": "arable",
    "farmyard": "other",
    "meadow": "grassland",
    "grassland": "grassland",
    "grass": "grassland",
    "wet_meadow": "grassland",
    "forest": "forest",
    "wood": "forest",
    "water": "water",
    "lake": "water",
    "river": "water",
    "reservoir": "water",
    "basin": "water",
    "pond": "water",
    "residential": "residential",
    "industrial": "industrial",
    "commercial": "industrial",
    "retail": "industrial",
    "railway": "transport",
    "garages": "transport",
    # conversion land (EEG 2023 §37(1) no. 2 c: former military, economic or traffic use), candidate for
    # ground-mounted PV and wind; whether a site is still in use is for the planner to check
    "military": "conversion",
    "brownfield": "conversion",
    "landfill": "conversion",
    "quarry": "conversion",
}

#: The canonical land-cover vocabulary.
LANDCOVER_VOCABULARY = (
    "arable", "grassland", "forest", "water", "residential", "industrial", "conversion", "transport", "other",
)

#: OSM highway value (or OpenMapTiles transportation class) → canonical road class.
ROAD_CLASSES: dict[str, str] = {
    "motorway": "motorway",
    "motorway_link": "motorway",
    "trunk": "trunk_primary",
    "trunk_link": "trunk_primary",
    "primary": "trunk_primary",
    "primary_link": "trunk_primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "secondary",
    "tertiary_link": "secondary",
    "minor": "minor",
    "unclassified": "minor",
    "residential": "minor",
    "living_street": "minor",
    "road": "minor",
    "service": "minor",
    "track": "minor",
}
ROAD_VOCABULARY = ("motorway", "trunk_primary", "secondary", "minor")

#: Railway kinds kept (others: abandoned, disused, razed, platforms… are dropped).
RAILWAY_KINDS = ("rail", "light_rail", "narrow_gauge", "tram", "subway")
WATERWAY_CLASSES = ("river", "stream", "canal", "ditch", "drain")
AERODROME_CLASSES = ("aerodrome", "helipad", "heliport", "navigationaid", "runway")
POWER_LINE_CLASSES = ("line", "minor_line", "cable")
PROTECTED_AREA_TYPES = ("NSG", "LSG", "FFH", "SPA", "NP", "other")
PLANT_TECHNOLOGIES = {"solar": "pv", "wind": "wind", "biomass": "biomass", "biogas": "biomass"}

_POLYGONAL = ("Polygon", "MultiPolygon")
_LINEAR = ("LineString", "MultiLineString")


def _col(gdf: pd.DataFrame, name: str) -> pd.Series:
    """A tag column as strings, empty where the tag is absent."""
    if name not in gdf.columns:
        return pd.Series("", index=gdf.index, dtype=object)
    return gdf[name].astype(object).where(gdf[name].notna(), "").astype(str)


def _frame(gdf: gpd.GeoDataFrame, mask: pd.Series, columns: dict[str, pd.Series]) -> gpd.GeoDataFrame:
    data = {k: v[mask].to_numpy() for k, v in columns.items()}
    return gpd.GeoDataFrame(data, geometry=gdf.geometry[mask].to_numpy(), crs=gdf.crs)


def protected_area_type(
    boundary: pd.Series, leisure: pd.Series, *, protect_class: pd.Series, title: pd.Series
) -> pd.Series:
    """German protected-area type from OSM tags.

    ``leisure=nature_reserve`` and ``protect_class=4`` are nature reserves (NSG),
    ``protect_class=5`` landscape protection (LSG), ``boundary=national_park`` NP; the
    ``protection_title`` decides where present (Natura 2000 titles → FFH or SPA).

    Parameters
    ----------
    boundary, leisure, protect_class : Series of str
        The OSM tags ``boundary``, ``leisure`` and ``protect_class`` ("" where absent).
    title : Series of str
        The OSM tag ``protection_title`` ("" where absent).

    Returns
    -------
    Series of str
        ``NSG``, ``LSG``, ``FFH``, ``SPA``, ``NP`` or ``other``, on ``boundary``'s index.
    """
    title = title.str.lower()
    out = pd.Series("other", index=boundary.index, dtype=object)
    out[protect_class.eq("5")] = "LSG"
    out[protect_class.isin(["4", "1a", "1b"]) | leisure.eq("nature_reserve")] = "NSG"
    out[protect_class.eq("97")] = "FFH"
    out[title.str.contains("landschaftsschutz")] = "LSG"
    out[title.str.contains("naturschutzgebiet")] = "NSG"
    out[title.str.contains("ffh|fauna-flora|habitat")] = "FFH"
    out[title.str.contains("vogelschutz|spa")] = "SPA"
    out[boundary.eq("national_park") | protect_class.eq("2")] = "NP"
    return out


def _height(gdf: pd.DataFrame) -> np.ndarray:
    height = pd.to_numeric(_col(gdf, "height").str.replace("m", "").str.strip(), errors="coerce")
    levels = pd.to_numeric(_col(gdf, "building:levels"), errors="coerce")
    return height.fillna(levels * 3.0).to_numpy(dtype=float)


def classify_osm(features: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Map an osmnx feature table onto the canonical layers.

    Parameters
    ----------
    features : GeoDataFrame
        As returned by ``osmnx.features_from_polygon`` or ``osmnx.features_from_xml`` with
        :data:`OSM_TAGS` (tag columns, mixed geometry types).

    Returns
    -------
    dict of str to GeoDataFrame
        Canonical layers (CRS of the input), each with the canonical columns; layers with no
        matching feature are empty frames.
    """
    gdf = features.reset_index(drop=False)
    gtype = gdf.geom_type
    poly = gtype.isin(_POLYGONAL)
    line = gtype.isin(_LINEAR)
    point = gtype.eq("Point")
    landuse, natural, leisure = _col(gdf, "landuse"), _col(gdf, "natural"), _col(gdf, "leisure")
    highway, railway, waterway = _col(gdf, "highway"), _col(gdf, "railway"), _col(gdf, "waterway")
    building, power, aeroway = _col(gdf, "building"), _col(gdf, "power"), _col(gdf, "aeroway")
    boundary, water = _col(gdf, "boundary"), _col(gdf, "water")
    name = _col(gdf, "name")
    layers: dict[str, gpd.GeoDataFrame] = {}

    subclass = landuse.where(landuse.ne(""), natural.where(natural.ne(""), leisure))
    subclass = subclass.where(~(natural.eq("water") & water.ne("")), water)
    cls = subclass.map(LANDCOVER_CLASSES).fillna("other")
    is_lc = poly & subclass.ne("") & building.eq("") & ~leisure.eq("nature_reserve")
    layers["landcover"] = _frame(gdf, is_lc, {"class": cls, "subclass": subclass})

    layers["buildings"] = _frame(
        gdf, poly & building.ne(""), {"kind": building, "height_m": pd.Series(_height(gdf))}
    )
    road_cls = highway.map(ROAD_CLASSES)
    layers["roads"] = _frame(
        gdf, line & road_cls.notna(),
        {"class": road_cls, "kind": highway, "name": name,
         "bridge_tunnel": _col(gdf, "bridge").where(_col(gdf, "bridge").ne(""), _col(gdf, "tunnel"))},
    )
    service = _col(gdf, "service")
    layers["railways"] = _frame(
        gdf, line & railway.isin(RAILWAY_KINDS),
        {"kind": railway, "main": railway.eq("rail") & service.eq(""), "service": service},
    )
    layers["waterways"] = _frame(
        gdf, line & waterway.isin(WATERWAY_CLASSES),
        {"class": waterway, "name": name, "intermittent": _col(gdf, "intermittent").eq("yes"),
         "tunnel": _col(gdf, "tunnel").isin(["yes", "culvert"])},
    )
    is_water = poly & (natural.eq("water") | landuse.isin(["reservoir", "basin"])
                       | waterway.eq("riverbank"))
    water_cls = water.where(water.ne(""), landuse.where(landuse.ne(""), "lake"))
    water_cls = water_cls.where(~waterway.eq("riverbank"), "river")
    layers["water_bodies"] = _frame(gdf, is_water, {"class": water_cls, "name": name})

    is_pa = poly & (boundary.isin(["protected_area", "national_park"]) | leisure.eq("nature_reserve"))
    pa_type = protected_area_type(boundary, leisure, protect_class=_col(gdf, "protect_class"),
                                  title=_col(gdf, "protection_title"))
    layers["protected_areas"] = _frame(gdf, is_pa, {"type": pa_type, "name": name})

    layers["aerodromes"] = _frame(
        gdf, aeroway.isin(AERODROME_CLASSES), {"class": aeroway, "name": name, "ref": _col(gdf, "ref")}
    )
    layers["power_lines"] = _frame(
        gdf, line & power.isin(POWER_LINE_CLASSES),
        {"class": power, "voltage_v": pd.to_numeric(_col(gdf, "voltage").str.split(";").str[0],
                                                   errors="coerce")},
    )
    source = _col(gdf, "generator:source").where(_col(gdf, "generator:source").ne(""),
                                                _col(gdf, "plant:source"))
    tech = source.map(PLANT_TECHNOLOGIES).fillna("other")
    out = _col(gdf, "generator:output:electricity").where(
        _col(gdf, "generator:output:electricity").ne(""), _col(gdf, "plant:output:electricity"))
    layers["existing_plants"] = _frame(
        gdf, power.isin(["generator", "plant"]) & (poly | point),
        {"technology": tech, "capacity_mw": _parse_power_mw(out), "name": name},
    )
    return layers


def _parse_power_mw(values: pd.Series) -> pd.Series:
    """Parse OSM power values ("5 MW", "750 kW", "3.2 MWp") to MW; NaN when unparseable."""
    text = values.str.lower().str.replace(",", ".").str.strip()
    number = pd.to_numeric(text.str.extract(r"([0-9.]+)")[0], errors="coerce")
    factor = np.select(
        [text.str.contains("gw"), text.str.contains("mw"), text.str.contains("kw"),
         text.str.contains("w")],
        [1000.0, 1.0, 1e-3, 1e-6], default=np.nan,
    )
    return number * factor


def read_osm_xml(path: str | Path, polygon: BaseGeometry | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Canonical layers from a local ``.osm`` XML file, through osmnx's XML parser.

    Parameters
    ----------
    path : path-like
        An OSM XML file (e.g. exported from JOSM, the Overpass API or osmium).
    polygon : shapely geometry, optional
        Area of interest in EPSG:4326; features outside it are dropped.
    """
    import osmnx as ox

    features = ox.features_from_xml(path, polygon=polygon, tags=OSM_TAGS)
    log.info("Read %d OSM features from %s", len(features), path)
    return classify_osm(features)


def fetch_osm(polygon: BaseGeometry) -> dict[str, gpd.GeoDataFrame]:
    """Canonical layers fetched online through osmnx (Overpass API, cached by osmnx).

    Parameters
    ----------
    polygon : shapely geometry
        Area of interest (region plus margin) in EPSG:4326.
    """
    import osmnx as ox

    features = ox.features_from_polygon(polygon, tags=OSM_TAGS)
    log.info("Fetched %d OSM features through osmnx", len(features))
    return classify_osm(features)
