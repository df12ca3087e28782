"""Exports for municipal GIS and spreadsheet users: a GeoPackage with QGIS styles, Shapefiles
with short field names and ``.qml`` styles, CSV and an Excel workbook.

- **GeoPackage** ``landuse.gpkg``: every result layer, the balance (``summary``), ``metadata``
  and ``layer_styles`` (several QGIS styles per layer, one the default); layer descriptions in
  ``gpkg_contents.description``. Written as GeoPackage 1.2, which GDAL 3.6 (QGIS 3.22) reads
  without a version warning.
- **Shapefiles** ``shapefiles/``: the same layers; field names after the scheme of
  ``docs/shapefiles.md`` (:func:`short_names`: technology prefix + measure, at most 10
  characters), numbers as wide as their values need (:func:`decimals_of`), ``fields.csv`` with
  full name, short name, unit and description; a ``.qml`` beside each layer (plus
  ``<layer>.<style>.qml`` for the further styles).
- **Workbook** ``landuse.xlsx``: headers in words with units, number formats, shares as
  percentages, a sheet per tier and accounting frame, Agri-PV apart, the parameters in use.

Polygon layers are snapped to a 0.01 mm grid when written (:func:`clean_geometries`): the
overlays leave vertices a few nanometres apart, which QGIS's own geometry check reports as
duplicate nodes; areas change by far less than 0.01 %.

Everything is written through temporary files and renamed when complete, so an interrupted
export leaves the previous complete one in place.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from landuse import technologies
from landuse.config import WORKING_CRS
from landuse.geometry import map_chunks, snap_to_grid
from landuse.io import TEMP_MARK, atomic_path, swap_folder, write_table
from landuse.technologies import Output, ResultLayer, Technology

log = logging.getLogger(__name__)

#: GeoPackage version written. GDAL >= 3.7.1 writes 1.4 by default, and GDAL 3.6 (QGIS 3.22,
#: Debian 12) warns on every open that "GeoPackage 1.4 may only be partially supported". 1.2 is
#: what GDAL 3.6 writes itself; nothing in the export needs 1.3 or 1.4.
GPKG_VERSION = "1.2"

#: Grid (m) the polygon layers are snapped to when written (see :func:`clean_geometries`).
GEOMETRY_GRID_M = 1e-5
#: Largest relative change of a feature's area the cleanup may make without a warning.
MAX_AREA_CHANGE = 1e-4


def result_layer_names() -> list[str]:
    """The layers an export writes: ``parcels``, ``allocation`` (the realistic tier's parcel parts
    by use) and each registered technology's layers."""
    return ["parcels", "allocation", *[name for t in technologies.technologies() for name in t.result_layer_names]]


def _technology_of(column: str) -> tuple[Technology | None, str]:
    """The technology whose name prefixes ``column`` (longest name first) and the rest; none for
    a parcel attribute that begins with a technology's name (``wind_speed_100m_mean``: a phrase
    of :data:`ABBREVIATIONS` or :data:`WORDS`)."""
    for t in sorted(technologies.technologies(), key=lambda t: -len(t.name)):
        if column.startswith(f"{t.name}_"):
            shared = [p for p in (*ABBREVIATIONS, *WORDS) if p.startswith(f"{t.name}_")]
            if any(column == p or column.startswith(f"{p}_") for p in shared):
                return None, column
            return t, column[len(t.name) + 1:]
    return None, column


def _output(column: str) -> tuple[Output | None, str]:
    """The potential column behind ``column`` (itself or its ``_low``/``_high``) and the suffix."""
    outputs = {o.column: o for o in technologies.all_outputs()}
    for sfx in ("", "_low", "_high"):
        if sfx and not column.endswith(sfx):
            continue
        base = column[: len(column) - len(sfx)] if sfx else column
        if base in outputs:
            return outputs[base], sfx
    return None, ""


# --- Shapefile field names ------------------------------------------------------------------

#: Abbreviations of words and phrases (underscore-joined) in column names, applied wherever they
#: occur (the longest phrase first); each technology adds the words it declares
#: (``Technology.abbreviations``) for its own columns. Words not listed are kept.
ABBREVIATIONS = {
    # parcel attributes
    "municipality": "muni", "group": "grp", "perimeter": "perim", "compactness": "compact", "dist": "d",
    "length": "len", "protected": "pr", "share": "sh", "nodata_share": "nd",
    # features (distances, exclusion rules)
    "settlement": "set", "building_group": "bgrp", "single_building": "sbld", "motorway": "mw",
    "trunk_primary": "trpr", "secondary": "sec", "minor_road": "minr", "federal_road": "fedr",
    "other_road": "othr", "railway": "rail", "main_railway": "mrail", "power_line": "pwl", "forest": "for",
    "water_body": "wbod", "waterway": "ww", "aerodrome": "aero", "approach_surface": "appr",
    "navigation_aid": "nav", "wind_turbine": "wt", "nature_reserve": "nres", "protected_area": "prot",
    "motorway_building_ban": "mwbb", "federal_road_building_ban": "frbb", "waterway_riparian": "wwrp",
    "min_patch": "mpat", "other": "oth",
    # soft criteria
    "land_cover": "lc", "landscape_protection": "lsp", "settlement_distance": "setd", "eligible_area": "elar",
    "eeg_corridor": "eeg", "soil_quality": "soil", "low_water_capacity": "lwc", "wind_erosion_exposure": "wero",
    "dry_summer": "dry", "heat_network_distance": "heat", "riparian": "rip",
    # technology results
    "eligible": "el", "agri_pv": "apv", "privileged": "prv", "soil_credit": "scr", "low": "lo", "high": "hi",
    # rasters
    "fk10dm": "fk", "water_balance": "wb", "slope_deg": "slope", "irradiation": "irr",
    "wind_speed_100m": "ws100", "wind_speed": "ws",
    # units and other layers
    "mwh_a": "mwh", "t_co2e_a": "t", "t_dm_a": "tdm", "rated_power": "rated", "territorial": "terr",
    "full_load_hours": "flh", "capacity": "cap", "hub_height": "hub_ht", "rotor_diameter": "rotor_d",
    "replaced_by": "repl_by", "grid_distance": "grid", "slope": "slp",
}

#: Characters of the measure after a technology's prefix: 10 less a prefix of up to 3 letters
#: and its underscore, so a measure reads the same for every technology.
MEASURE_WIDTH = 6


def abbreviations(technology: Technology | None = None) -> dict[str, str]:
    """Word or phrase → abbreviation: :data:`ABBREVIATIONS` and the words ``technology`` declares."""
    return {**ABBREVIATIONS, **(dict(technology.abbreviations) if technology else {})}


def _abbreviate(words: list[str], table: dict[str, str]) -> list[str]:
    """Replace words and phrases (longest first); a year range ``1971_2000`` becomes the last two
    digits of its first year, joined to the word before (``water_balance_1971_2000`` → ``wb71``)."""
    longest = max((k.count("_") + 1 for k in table), default=1)
    out: list[str] = []
    i = 0
    while i < len(words):
        if (i + 1 < len(words) and re.fullmatch(r"(19|20)\d\d", words[i])
                and re.fullmatch(r"(19|20)\d\d", words[i + 1])):
            if out:
                out[-1] += words[i][2:]
            else:
                out.append(words[i][2:])
            i += 2
            continue
        for k in range(min(longest, len(words) - i), 0, -1):
            phrase = "_".join(words[i:i + k])
            if phrase in table:
                out.append(table[phrase])
                i += k
                break
        else:
            out.append(words[i])
            i += 1
    return [w for w in out if w]


def _fit(tokens: list[str], width: int) -> str:
    """Join tokens with underscores in ``width`` characters: the longest token loses its last
    letter until they fit (the rightmost of equally long ones), then the underscores go."""
    tokens = list(tokens)
    while len("_".join(tokens)) > width and max(map(len, tokens)) > 1:
        longest = max(map(len, tokens))
        k = max(i for i, t in enumerate(tokens) if len(t) == longest)
        tokens[k] = tokens[k][:-1]
    name = "_".join(tokens)
    return name if len(name) <= width else name.replace("_", "")[:width]


def short_name(column: str) -> str:
    """The Shapefile name of one column (before clashes are numbered, see :func:`short_names`).

    - A technology's column: its prefix (``Technology.abbreviation``), ``_`` and the measure in
      :data:`MEASURE_WIDTH` characters: ``wind_score`` → ``wd_score``, ``pv_eligible_ha`` →
      ``pv_el_ha``, ``<t>_excl_<rule>_share`` → ``<p>_x_<rule>`` (share of the parcel the rule
      excludes), ``<t>_sub_<criterion>`` → ``<p>_s_<criterion>`` (sub-score).
    - Any other column: kept when it has at most 10 characters and nothing to abbreviate, else
      abbreviated (``dist_settlement_m`` → ``d_set_m``, ``nfk_nodata_share`` → ``nfk_nd``).

    Words and phrases are abbreviated after :data:`ABBREVIATIONS` wherever they occur (so a
    word always reads the same); what is still too long is cut letter by letter (:func:`_fit`).
    """
    technology, rest = _technology_of(column)
    words = rest.split("_")
    if technology is not None:
        if words[0] == "excl" and words[-1] == "share" and len(words) > 2:
            words = ["x", *words[1:-1]]
        elif words[0] == "sub" and len(words) > 1:
            words = ["s", *words[1:]]
        tokens = _abbreviate(words, abbreviations(technology))
        prefix = technology.abbreviation
        name = f"{prefix}_{_fit(tokens, min(MEASURE_WIDTH, 9 - len(prefix)))}"
    else:
        tokens = _abbreviate(words, abbreviations())
        name = _fit(tokens, 10)
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def short_names(columns: list[str]) -> dict[str, str]:
    """A stable mapping of long column names to unique names of at most 10 characters.

    Each name after :func:`short_name`; names that clash (case-insensitively, as in a ``.dbf``)
    are numbered in the order of the long names. The same columns always give the same mapping,
    whatever their order.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in sorted(columns):
        name = short_name(col)
        base, k = name, 1
        while name.lower() in taken:
            suffix = str(k)
            name = base[: 10 - len(suffix)] + suffix
            k += 1
        taken.add(name.lower())
        out[col] = name
    return {c: out[c] for c in columns}


# --- units, decimals, descriptions, labels --------------------------------------------------

#: Units by column name (first match wins); technologies declare theirs (``field_units``) and
#: their potential columns carry their own.
_UNITS = [
    (r"_score$|_sub_|^score$", "0-100"), (r"_share$|_share_of_|compactness", "0-1"), (r"(^|_)ha$", "ha"),
    (r"^(x|y)$|_m$", "m"), (r"_mwp$", "MWp"), (r"_mw$", "MW"), (r"(^|_)mwh_a$", "MWh/a"), (r"_t_co2e_a$", "t CO2e/a"),
    (r"_ms$", "m/s"), (r"_h_a$", "h/a"),
    (r"_t_co2e$", "t CO2e"), (r"_t_dm_a$", "t DM/a"), (r"^(nfk|fk10dm|water_balance)", "mm"), (r"^dem_", "m"),
    (r"_deg", "degree"), (r"^irradiation_", "kWh/m²/a"), (r"^wind_speed", "m/s"), (r"_year$|^year$", "year"),
    (r"^units$", "ha or turbines"),
]

#: Decimals of a number by its unit, in the Shapefiles (areas to 0.01 ha, scores to 0.1).
DECIMALS = {"ha": 2, "ha or turbines": 2, "0-100": 1, "0-1": 3, "m": 0, "mm": 1, "MW": 2, "MWp": 2, "MWh/a": 0,
            "t CO2e/a": 1, "t CO2e": 0, "t DM/a": 1, "degree": 1, "m/s": 2, "kWh/m²/a": 0, "count": 0, "year": 0,
            "h/a": 0}


def unit_of(column: str) -> str:
    """Unit of a result column: declared by its technology or its potential column, else from
    its name ('' for text and ids)."""
    technology, rest = _technology_of(column)
    if technology is not None:
        for sfx in ("", "_low", "_high"):
            base = rest[: len(rest) - len(sfx)] if sfx and rest.endswith(sfx) else rest
            if base in technology.field_units:
                return technology.field_units[base]
    output, _ = _output(column)
    if output is not None:
        return output.unit
    base = re.sub(r"_(low|high)$", "", column)
    for pattern, unit in _UNITS:
        if re.search(pattern, base):
            return unit
    return ""


def decimals_of(column: str, values: pd.Series | None = None) -> int:
    """Decimals a column's numbers are written with in the Shapefiles: by unit (:data:`DECIMALS`);
    for a unit not listed, four significant digits of the largest value (at most 6)."""
    unit = unit_of(column)
    if unit in DECIMALS:
        return DECIMALS[unit]
    finite = pd.to_numeric(values, errors="coerce").abs() if values is not None else pd.Series(dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.empty:
        return 2
    return int(np.clip(3 - math.floor(math.log10(finite.max())), 0, 6))


#: Words for the parts of column names (descriptions and workbook headers).
WORDS = {
    "settlement": "residential land", "building_group": "building group (≥ 5 dwellings outside settlements)",
    "single_building": "single building outside settlements", "motorway": "motorway",
    "trunk_primary": "trunk or primary road", "secondary": "secondary or tertiary road",
    "minor_road": "minor road or track", "railway": "railway", "main_railway": "main railway line",
    "power_line": "power line", "forest": "forest", "water_body": "lake, pond or river area",
    "waterway": "open waterway", "aerodrome": "aerodrome, heliport or runway", "navigation_aid": "navigation aid",
    "wind_turbine": "existing wind turbine", "federal_road": "federal road", "other_road": "other road",
    "nature_reserve": "nature reserve, national park or Natura 2000 site",
    "approach_surface": "runway approach surface", "motorway_building_ban": "motorway building-ban zone",
    "federal_road_building_ban": "federal-road building-ban zone",
    "waterway_riparian": "riparian strip of a waterway", "protected_area": "protected area",
    "min_patch": "patches below the minimum plant area", "land_cover": "land cover",
    "landscape_protection": "landscape protection area", "settlement_distance": "distance to residential land",
    "eligible_area": "size of the eligible area", "eeg_corridor": "EEG corridor", "soil_quality": "soil quality",
    "low_water_capacity": "low water capacity of the soil", "wind_erosion_exposure": "exposure to wind erosion",
    "dry_summer": "dry summers", "heat_network_distance": "distance to a heat network", "riparian": "riparian strips",
    "nfk": "plant-available water capacity of the root zone", "fk10dm": "field capacity 0–1 m",
    "dem": "elevation", "slope_deg": "slope", "irradiation": "global irradiation",
    "wind_speed_100m": "mean wind speed 100 m above ground", "water_balance": "climatic water balance",
}

#: Descriptions of the columns that are the same in every run (parcel attributes, other layers).
DESCRIPTIONS = {
    "parcel_id": "stable parcel id: <AGS>-<hash of centroid and area>, or the parcel file's id",
    "class": ("land cover: arable, grassland, forest (candidates); conversion, water, residential, industrial, "
              "transport, other"),
    "subclass": "OSM value (farmland, meadow, wood, park, …)", "ags": "official municipality key (AGS)",
    "municipality": "municipality", "municipality_group": "group of municipalities (region config)",
    "candidate": "1 = arable, grassland or forest: can host a measure",
    "site": ("1 = a class a technology of the run can use: the siting attributes (distances, protected shares, "
             "waterway length, raster statistics) are computed; empty for the other parcels"),
    "overlaps": "1 = overlaps another parcel of the parcel file", "area_ha": "area", "perimeter_m": "perimeter",
    "compactness": "4π·area/perimeter² (1 = circle, small = elongated)",
    "width_m": "width proxy 2·area/perimeter (a strip's width; half a square's side)",
    "waterway_length_m": "open waterway inside the parcel or within 10 m of its edge",
    "eligible_ha": "eligible area of the parcel (after the exclusions)", "score": "score of the eligible area",
    "turbine_id": "turbine id", "x": "easting (EPSG:25833)", "y": "northing (EPSG:25833)",
    "rated_power_mw": "rated power of the reference turbine", "use": "use of this part of the parcel (technology)",
    "units": "units of the use: ha, or turbines for wind", "ha": "area of this part",
    "avoided_t_co2e_a": "avoided emissions and sinks of this part (central estimate)",
    "territorial_t_co2e_a": "what this part lowers the territorial balance by (fossil heat replaced)",
    "mwh_a": "energy per year", "wind_speed_hub_ms": "wind speed at hub height",
}

_STATISTICS = {"mean": "mean", "min": "minimum", "max": "maximum"}


#: Descriptions of technology measures (``<technology>_<measure>``) beyond the common ones.
MEASURES = {
    "agri_pv_ha": "Agri-PV only: eligible area on farmland too good for conventional PV",
    "privileged_ha": "eligible area in the privileged corridor along motorways and main railways",
    "eeg_corridor_ha": "eligible area in the EEG corridor along motorways and main railways (beyond the "
                       "privileged one)",
    "riparian_ha": "riparian tree strips along waterways",
    "no_soil_credit": "1 = no soil-carbon credit (grassland)",
    "layout": "planting layout: alley_cropping, coppice, or empty where nothing is eligible",
}


def _words(name: str) -> str:
    if name in WORDS:
        return WORDS[name]
    if m := re.fullmatch(r"(.+?)_((?:19|20)\d\d)_((?:19|20)\d\d)", name):
        return f"{_words(m[1])} {m[2]}–{m[3]}"
    return name.replace("_", " ")


def describe(column: str, layer: str | None = None) -> str:
    """A description of a column of a result layer in words (for ``fields.csv``): the label its
    technology gives a field of its own layer (``ResultLayer.fields``), else from the name."""
    spec = layer_spec(layer) if layer else None
    if spec is not None and column in spec.fields:
        return spec.fields[column]
    technology, rest = _technology_of(column)
    if column in DESCRIPTIONS:
        return DESCRIPTIONS[column]
    output, sfx = _output(column)
    if output is not None:
        return _output_label(output) + {"": " (central estimate)", "_low": " (low end)", "_high": " (high end)"}[sfx]
    if technology is not None:
        title = technology.title
        if rest in MEASURES:
            return f"{title}: {MEASURES[rest]}"
        if rest == "eligible_ha":
            return f"{title}: eligible area of the parcel (after the exclusions)"
        if rest == "score":
            return f"{title}: score of the eligible area (weighted soft criteria; empty where nothing is eligible)"
        if rest == "reason":
            return (f"{title}: why land is excluded or limited (rules, ';'-separated; in the Shapefile as the codes "
                    f"of the {technology.abbreviation}_x_<code> fields, lc_<class> for a land cover the technology "
                    "does not use; in the GeoPackage by name)")
        if m := re.fullmatch(r"excl_(.+)_share", rest):
            return f"{title}: share of the parcel excluded by the rule '{m[1]}' ({_words(m[1])})"
        if m := re.fullmatch(r"sub_(.+)", rest):
            return f"{title}: sub-score of the criterion '{m[1]}' ({_words(m[1])})"
        if m := re.fullmatch(r"(.+)_(low|high)", rest):
            return f"{title}: {_words(m[1])} ({m[2]} end)"
        if m := re.fullmatch(r"(.+)_ha", rest):
            return f"{title}: area {_words(m[1])}"
        return f"{title}: {_words(rest)}"
    if m := re.fullmatch(r"dist_(.+)_m", column):
        return (f"distance to the nearest {_words(m[1])}, capped at the layer's reach (the margin, 3,000 m by "
                "default; power lines 30 km): the cap reads 'at least'; empty where the layer is empty and for "
                "parcels that are not a site")
    if m := re.fullmatch(r"protected_(.+)_share", column):
        return f"share of the area inside protected areas of type {m[1]}"
    if m := re.fullmatch(r"(.+)_nodata_share", column):
        return f"{_words(m[1])}: share of the raster cells without data (1 = the raster does not cover the parcel)"
    if m := re.fullmatch(r"(.+)_(mean|min|max)", column):
        return f"{_words(m[1])}: {_STATISTICS[m[2]]} over the raster cells in the parcel"
    if m := re.fullmatch(r"(.+)_(low|high)", column):
        return f"{describe(m[1], layer)} ({m[2]} end)"
    if m := re.fullmatch(r"(.+?)_(m|ha|mw|ms|h_a)", column):
        return _words(m[1])
    return _words(column)


#: Workbook headers of the columns that are the same in every run.
LABELS = {
    "area": "Area", "level": "Level", "tier": "Tier", "frame": "Frame",
    "share_realised": "Share of the potential realised", "avoided_t_co2e_a": "Avoided emissions, all technologies",
    "sequestered_t_co2e_a": "Sinks (sequestered), all technologies",
    "territorial_t_co2e_a": "Territorial: fossil heat replaced",
    "local_electricity_mwh_a": "Local renewable electricity",
    "emission_load_t_co2e_a": "Emission load", "emission_load_year": "Year of the emission load",
    "energy_use_mwh_a": "Energy use", "sinks_t_co2e_a": "Sinks beside the territorial balance",
    "coverage_avoided_share": "Load covered by avoided emissions and sinks",
    "coverage_territorial_share": "Load covered in the territorial balance",
    "electricity_share_of_energy_use": "Local electricity as a share of the energy use",
    "year": "Year", "load_from_year": "Load of the year", "kind": "Kind of load", "load_t_co2e_a": "Emission load",
    "avoided_and_sinks_t_co2e_a": "Avoided emissions and sinks", "status": "Status", "source": "Source",
    "layer": "Layer", "short_name": "Shapefile field", "long_name": "Field (GeoPackage)", "unit": "Unit",
    "description": "Description", "type": "Type", "width": "Width", "decimals": "Decimals",
}


def _output_label(output: Output) -> str:
    """The potential column's label, with its technology's title where the label lacks it."""
    owner = next(t for t in technologies.technologies() if output in t.outputs)
    words = [w for w in re.split(r"[\s/]+", owner.title) if len(w) > 1]
    if ":" in output.label or any(w.lower() in output.label.lower() for w in words):
        return output.label
    return f"{owner.title}: {output.label[0].lower()}{output.label[1:]}"


def column_label(column: str) -> str:
    """A column's name in words, without its unit (workbook headers)."""
    if column in LABELS:
        return LABELS[column]
    for sfx, words in (("_low", ", low"), ("_high", ", high")):
        if column.endswith(sfx) and column[: -len(sfx)] in LABELS:
            return LABELS[column[: -len(sfx)]] + words
    output, sfx = _output(column)
    if output is not None:
        return _output_label(output) + {"": "", "_low": ", low", "_high": ", high"}[sfx]
    technology, rest = _technology_of(column)
    if technology is not None:
        m = re.fullmatch(r"(.+?)(_low|_high)?", rest)
        part, sfx = m[1], m[2] or ""
        part = {"eligible_ha": "eligible area", "eligible_share_of_area": "eligible share of the area",
                "agri_pv_ha": "Agri-PV only (good farmland)", "privileged_ha": "privileged area (corridor)",
                "riparian_ha": "riparian tree strips"}.get(part, re.sub(r"_ha$", " area", part).replace("_", " "))
        return f"{technology.title}: {part}" + {"": "", "_low": ", low", "_high": ", high"}[sfx]
    return column.replace("_", " ")


def column_header(column: str) -> str:
    """A column's workbook header: words and unit (``Wind capacity (MW)``, ``… (%)``)."""
    unit = unit_of(column)
    shown = {"0-1": "%", "0-100": "points", "count": "", "year": "", "": ""}.get(unit, unit)
    if _is_share(column):
        shown = "%"
    return f"{column_label(column)} ({shown})" if shown else column_label(column)


def _is_share(column: str) -> bool:
    return bool(re.search(r"(_share$|_share_(low|high)$|_share_of_|share_realised)", column))


def number_format(column: str) -> tuple[str, int | None]:
    """Excel number format of a workbook column and the decimals its values are rounded to
    (None: neither rounded nor formatted, e.g. the parameter values)."""
    if column == "share_realised":
        return "0%", 2
    if _is_share(column):
        return "0.00%", 4
    output, _ = _output(column)
    unit = unit_of(column)
    if output is not None:
        d = output.decimals
    elif unit in ("year",):
        return "0", 0
    elif unit in ("t CO2e/a", "t CO2e", "MWh/a", "t DM/a", "count"):
        d = 0
    elif unit in ("ha", "mm", "0-100"):
        d = 1
    elif unit in ("MW", "MWp"):
        d = 2
    else:
        return "General", None
    return ("#,##0." + "0" * d) if d else "#,##0", d


# --- QGIS styles --------------------------------------------------------------------------

#: Bounds of the score classes (points of 0–100): one class below 50, then steps of 10 (the scores
#: of the default region run from about 40 to 100).
SCORE_BREAKS = (0, 50, 60, 70, 80, 90, 100)

#: Land-cover palette: earthy and pastel tones, away from the technologies' score ramps (blues,
#: oranges, greens; tests/test_export.py keeps them apart).
CLASS_COLORS = {"arable": "#fff3a0", "grassland": "#cde6a0", "forest": "#6b8e23", "water": "#4fc3d9",
                "residential": "#e6a0b4", "industrial": "#a98bd0", "conversion": "#b5655a", "transport": "#8c8c8c",
                "other": "#bfa58a"}
CLASS_LABELS = {"arable": "arable land", "grassland": "grassland", "forest": "forest", "water": "water",
                "residential": "residential", "industrial": "industrial / commercial",
                "conversion": "conversion land (former military, landfills, quarries, brownfields)",
                "transport": "transport", "other": "other (parks, allotments, wetlands, orchards)"}


def land_cover_categories() -> list[tuple[str, str, str]]:
    """(class, label, hex colour) of every land-cover class (``landuse.schema.LAND_COVER_CLASSES``);
    a class without a colour of its own is drawn light grey."""
    from landuse.schema import LAND_COVER_CLASSES

    classes = list(dict.fromkeys([*LAND_COVER_CLASSES, *CLASS_COLORS]))
    return [(c, CLASS_LABELS.get(c, c), CLASS_COLORS.get(c, "#d9d9d9")) for c in classes]


def _hex_rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _rgb(hex_color: str) -> str:
    """'#2166ac' → '33,102,172' (QGIS colour strings)."""
    return ",".join(map(str, _hex_rgb(hex_color)))


def score_ramp(hex_color: str, n: int = len(SCORE_BREAKS) - 1) -> list[str]:
    """``n`` colours from a light tint to a deep shade of a technology's colour (low to high score)."""
    base = np.array(_hex_rgb(hex_color), dtype=float)
    out = []
    for p in np.linspace(-0.8, 0.4, n):
        c = base + (255 - base) * -p if p < 0 else base * (1 - p)
        out.append("#" + "".join(f"{int(round(v)):02x}" for v in c))
    return out


def score_classes(technology: Technology) -> list[tuple[int, int, str, str]]:
    """(lower, upper, hex colour, label) of a technology's score classes."""
    colors = score_ramp(technology.color)
    return [(lo, hi, colors[i], f"{technology.title} score {lo}–{hi} points")
            for i, (lo, hi) in enumerate(zip(SCORE_BREAKS[:-1], SCORE_BREAKS[1:], strict=True))]


def _fill(name: str, color: str, outline: str = "68,68,68", width: float = 0.1, style: str = "solid",
          outline_style: str = "solid") -> str:
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" pass="0" locked="0" enabled="1"><Option type="Map">'
            f'<Option name="color" value="{color},255" type="QString"/>'
            f'<Option name="outline_color" value="{outline},255" type="QString"/>'
            f'<Option name="outline_style" value="{outline_style}" type="QString"/>'
            f'<Option name="outline_width" value="{width}" type="QString"/>'
            '<Option name="outline_width_unit" value="MM" type="QString"/>'
            f'<Option name="style" value="{style}" type="QString"/>'
            '</Option></layer></symbol>')


def _marker(name: str, color: str) -> str:
    return (f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleMarker" pass="0" locked="0" enabled="1"><Option type="Map">'
            f'<Option name="color" value="{color},255" type="QString"/>'
            '<Option name="name" value="circle" type="QString"/>'
            '<Option name="outline_color" value="255,255,255,255" type="QString"/>'
            '<Option name="size" value="3" type="QString"/>'
            '</Option></layer></symbol>')


def layer_spec(layer: str) -> ResultLayer | None:
    """The declaration of a technology's own result layer (None for parcels and eligible areas)."""
    for t in technologies.technologies():
        for spec in t.layers:
            if layer == f"{t.name}_{spec.key}":
                return spec
    return None


def _eligible_of(layer: str) -> Technology | None:
    return next((t for t in technologies.technologies() if layer == f"{t.name}_eligible"), None)


@dataclass(frozen=True)
class LayerStyle:
    """One QGIS style of a layer: ``key`` names it in files (``<layer>.<key>.qml``), ``name`` and
    ``description`` show in QGIS's style list."""

    key: str
    name: str
    description: str


def layer_styles(layer: str) -> list[LayerStyle]:
    """The styles of a result layer, the default first: the parcels by land cover and by each
    technology's score; eligible areas by score; the allocation by use; the others one symbol."""
    if layer == "parcels":
        return [LayerStyle("land_cover", "Land cover", "Parcels by land-cover class"),
                *[LayerStyle(f"{t.name}_score", f"{t.title} score",
                             f"Parcels by their {t.title} score (0–100 points); parcels without eligible land "
                             "are not drawn") for t in technologies.technologies()]]
    if layer == "allocation":
        return [LayerStyle("use", "Use (realistic tier)", "Parcel parts by the use they get in the realistic tier")]
    if (t := _eligible_of(layer)) is not None:
        return [LayerStyle("score", f"{t.title} score", f"{t.title}: eligible areas by score (0–100 points)")]
    spec = layer_spec(layer)
    return [LayerStyle("symbol", spec.title if spec else layer, spec.title if spec else layer)]


def _graduated(attr: str, technology: Technology) -> str:
    classes = score_classes(technology)
    ranges = "".join(f'<range lower="{lo}" upper="{hi}" symbol="{i}" label={quoteattr(label)} render="true"/>'
                     for i, (lo, hi, _, label) in enumerate(classes))
    syms = "".join(_fill(str(i), _rgb(c)) for i, (_, _, c, _) in enumerate(classes))
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} graduatedMethod="GraduatedColor" '
            f'symbollevels="0" forceraster="0" enableorderby="0"><ranges>{ranges}</ranges>'
            f'<symbols>{syms}</symbols><mode name="manual"/></renderer-v2>')


def _categorized(attr: str, categories: list[tuple[str, str, str]]) -> str:
    cats = "".join(f'<category value={quoteattr(v)} symbol="{i}" label={quoteattr(label)} render="true"/>'
                   for i, (v, label, _) in enumerate(categories))
    syms = "".join(_fill(str(i), _rgb(c)) for i, (_, _, c) in enumerate(categories))
    return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" forceraster="0" '
            f'enableorderby="0"><categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>')


def qml_style(layer: str, fields: dict[str, str] | None = None, style: str | None = None) -> str:
    """A QGIS style (QML) of a result layer.

    Parameters
    ----------
    layer : str
        Result layer name.
    fields : dict, optional
        Long → written field names (the Shapefiles' short names).
    style : str, optional
        Key of one of :func:`layer_styles` (default: the layer's default style).
    """
    fields = fields or {}
    f = lambda c: fields.get(c, c)  # noqa: E731
    styles = {s.key: s for s in layer_styles(layer)}
    key = style or next(iter(styles))
    if key not in styles:
        raise ValueError(f"Layer {layer!r} has no style {key!r}; it has {', '.join(styles)}.")
    spec = layer_spec(layer)
    if layer == "parcels" and key == "land_cover":
        renderer = _categorized(f("class"), land_cover_categories())
    elif layer == "parcels":
        t = technologies.get(key.removesuffix("_score"))
        renderer = _graduated(f(key), t)
    elif layer == "allocation":
        renderer = _categorized(f("use"), [(t.name, t.title, t.color) for t in technologies.technologies()])
    elif (t := _eligible_of(layer)) is not None:
        renderer = _graduated(f("score"), t)
    elif spec is not None and spec.geometry == "point":
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
                    f'<symbols>{_marker("0", _rgb(spec.color))}</symbols></renderer-v2>')
    else:
        rgb = _rgb(spec.color if spec else "#666666")
        symbol = (_fill("0", rgb, rgb, 0.5, "no", "dash") if spec is not None and spec.style == "outline"
                  else _fill("0", rgb, rgb))
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
                    f"<symbols>{symbol}</symbols></renderer-v2>")
    geometry_type = "0" if spec is not None and spec.geometry == "point" else "2"
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.22.0" styleCategories="Symbology">{renderer}'
            f"<layerGeometryType>{geometry_type}</layerGeometryType></qgis>\n")


def layer_description(layer: str) -> str:
    """What a layer or table of the GeoPackage holds (``gpkg_contents.description``)."""
    if layer == "parcels":
        techs = ", ".join(t.title for t in technologies.technologies())
        return ("Parcels with land cover, distances, soil and climate values and, for each technology "
                f"({techs}), the share excluded by each rule, the eligible area (ha), the score (0–100 points) "
                "and the reasons. Fields: docs/parcels.md; Shapefile names: shapefiles/fields.csv.")
    if layer == "allocation":
        return ("Realistic tier: the parcels' land by the use it gets (one use per hectare), with ha and "
                "t CO2e/a avoided and in the territorial balance.")
    if (t := _eligible_of(layer)) is not None:
        return f"{t.title}: eligible area of each parcel after the exclusions (ha), with its score (0–100 points)."
    if (spec := layer_spec(layer)) is not None:
        return f"{spec.title}."
    return {
        "summary": "The balance per municipality, group and region: realistic and technical tier, avoided-emissions "
                   "and territorial frame, at each share of the potential realised; low, central and high.",
        "metadata": "How the export was made: region, scenario, version, parameters, sources (paths relative to "
                    "the data directory), attribution.",
        "layer_styles": "QGIS styles of the layers (several per layer; QGIS loads the default with the layer).",
    }.get(layer, layer)


# --- geometry -----------------------------------------------------------------------------

def clean_geometries(gdf: gpd.GeoDataFrame, *, layer: str = "") -> gpd.GeoDataFrame:
    """Polygons snapped to a :data:`GEOMETRY_GRID_M` grid (:func:`landuse.geometry.snap_to_grid`:
    repeated points removed, the result valid), so QGIS's own check (``QgsGeometry.validateGeometry``)
    finds no duplicate nodes or touching segments; every row is kept.

    Overlays leave vertices nanometres apart (valid for GEOS, but QGIS
    flags nodes closer than 1e-8 as duplicates). A part the snapping splits off turns a polygon
    into a multipolygon; a feature whose area changes by more than :data:`MAX_AREA_CHANGE` is
    logged.
    """
    if gdf.empty:
        return gdf
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if not polygonal.any():
        return gdf
    new = geoms.copy()
    # on the threads: the check that most polygons are on the grid and valid already is GEOS's
    # validity test of every polygon (default region: 1.4 s on one thread, while the exports wrote)
    new[polygonal] = map_chunks(lambda part: snap_to_grid(part, GEOMETRY_GRID_M), geoms[polygonal])
    before, after = shapely.area(geoms[polygonal]), shapely.area(new[polygonal])
    change = np.abs(after - before) / np.where(before > 0, before, 1.0)
    if (change > MAX_AREA_CHANGE).any():
        log.warning("%s: snapping to %g m changed the area of %d features by more than %.2g %% (at most %.2g %%)",
                    layer or "layer", GEOMETRY_GRID_M, int((change > MAX_AREA_CHANGE).sum()), MAX_AREA_CHANGE * 100,
                    change.max() * 100)
    out = gdf.copy(deep=False)  # copy-on-write: the other columns are shared, not copied
    out[out.geometry.name] = gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs)
    return out


def geometry_type(layer: str) -> str:
    """The geometry type a layer is written with, also when it is empty (QGIS then opens it
    with its style): ``Point`` for point layers, else ``MultiPolygon`` (polygons are promoted)."""
    spec = layer_spec(layer)
    return "Point" if spec is not None and spec.geometry == "point" else "MultiPolygon"


def _layers(results: dict[str, gpd.GeoDataFrame]) -> Iterator[tuple[str, gpd.GeoDataFrame]]:
    """The result layers in export order, each in EPSG:25833 with its polygons cleaned, one at a
    time: a cleaned copy of every layer at once would double the results in memory."""
    for name in result_layer_names():
        if name in results:
            frame = results[name]
            # to_crs copies every column even where nothing is to reproject (all of Saxony's
            # parcels: some hundred megabytes)
            if frame.crs is None or not frame.crs.equals(WORKING_CRS):
                frame = frame.to_crs(WORKING_CRS)
            yield name, clean_geometries(frame, layer=name)


# --- metadata -----------------------------------------------------------------------------

#: An absolute path of at least two parts (POSIX or Windows).
_ABSOLUTE = re.compile(r"(?<![\w.~/\\-])(?:/|[A-Za-z]:[\\/])[^\s;,()'\"/\\]+(?:[\\/][^\s;,()'\"/\\]+)+")


def relative_paths(metadata: dict, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Metadata values as text with absolute paths made relative to the data directory.

    ``data_dir`` (default: the deepest folder all the absolute paths in the values share) is
    cut off; a path outside it keeps its file name only. No local path is left.
    """
    values = {k: str(v) for k, v in metadata.items()}
    found = [m for v in values.values() for m in _ABSOLUTE.findall(v)]
    if data_dir is not None:
        base = str(data_dir).replace("\\", "/").rstrip("/")
    elif found:
        folders = [p.replace("\\", "/").split("/")[:-1] for p in found]
        common = [parts[0] for parts in zip(*folders, strict=False) if len(set(parts)) == 1]
        shared = next((i for i, parts in enumerate(zip(*folders, strict=False)) if len(set(parts)) > 1),
                      min(map(len, folders)))
        base = "/".join(common[:shared])
    else:
        return values

    def rel(m: re.Match) -> str:
        path = m[0].replace("\\", "/")
        if base and path.startswith(base + "/"):
            return path[len(base) + 1:]
        return PureWindowsPath(m[0]).name if "\\" in m[0] else PurePosixPath(path).name

    return {k: _ABSOLUTE.sub(rel, v) for k, v in values.items()}


# --- writers -----------------------------------------------------------------------------

def write_geopackage(results: dict[str, gpd.GeoDataFrame], summary: pd.DataFrame | None, path: str | os.PathLike,
                     *, metadata: dict | None = None, timestamp: str | None = None,
                     data_dir: str | os.PathLike | None = None) -> Path:
    """All result layers, the summary table and QGIS styles (``layer_styles``) in one GeoPackage.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (see :func:`result_layer_names`).
    summary : DataFrame or None
        The balance, written as table ``summary``.
    path : path-like
    metadata : dict, optional
        Written as table ``metadata`` (key, value), paths relative to the data directory
        (:func:`relative_paths`).
    timestamp : str, optional
        ISO time (UTC) stored as the layers' and styles' change date; the same inputs and
        timestamp give the same bytes. Default: now.
    data_dir : path-like, optional
        The data directory the metadata's paths are given relative to.
    """
    with _GeoPackage(path, _names(results), timestamp) as gpkg:
        for name, gdf in _layers(results):
            gpkg.layer(name, gdf)
        gpkg.tables(summary, metadata, data_dir)
    return Path(path)


def _names(results: dict) -> list[str]:
    return [name for name in result_layer_names() if name in results]


#: Features handed to GDAL at a time (:func:`write_in_chunks`).
WRITE_CHUNK_ROWS = 50_000


def write_in_chunks(frame: pd.DataFrame, path: str | os.PathLike, *, rows: int | None = None,
                    dataset_options: dict | None = None, layer_options: dict | None = None, **options) -> None:
    """``pyogrio.write_dataframe`` of ``frame`` as a new layer, ``rows`` features at a time (the
    first slice creates the layer, the others append to it), in the frame's order.

    GDAL takes a layer as WKB and one array per field: for all of Saxony's 400,000 parcels at
    once that is a second copy of their geometries (about a gigabyte) beside the results.
    """
    n, rows = len(frame), rows or WRITE_CHUNK_ROWS
    for start in range(0, max(n, 1), rows):
        first = start == 0
        pyogrio.write_dataframe(frame.iloc[start:start + rows], path, append=not first,
                                dataset_options=dataset_options if first else None,
                                layer_options=layer_options if first else None, **options)


class _GeoPackage(contextlib.AbstractContextManager):
    """A GeoPackage written layer by layer under a temporary name, renamed onto ``path`` when
    the block ends without error (the styles of ``names`` are written last)."""

    def __init__(self, path: str | os.PathLike, names: list[str], timestamp: str | None):
        self.path, self.names = Path(path), names
        self.timestamp = timestamp or pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        self._stack = contextlib.ExitStack()
        self._first = True

    def __enter__(self):
        self.tmp = self._stack.enter_context(atomic_path(self.path))
        self._stack.enter_context(_gdal_date(self.timestamp))
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self._write(self._styles(), "layer_styles")
        return self._stack.__exit__(*exc)

    def _write(self, frame, layer: str, **geometry) -> None:
        write_in_chunks(frame, self.tmp, layer=layer, driver="GPKG",
                        dataset_options={"VERSION": GPKG_VERSION} if self._first else None,
                        layer_options={"DESCRIPTION": layer_description(layer)}, **geometry)
        self._first = False

    def layer(self, name: str, gdf: gpd.GeoDataFrame) -> None:
        """A result layer (EPSG:25833, cleaned), polygons as multipolygons."""
        self._write(gdf, name, geometry_type=geometry_type(name), promote_to_multi=geometry_type(name) != "Point")

    def tables(self, summary: pd.DataFrame | None, metadata: dict | None, data_dir) -> None:
        """The tables ``summary`` and ``metadata`` (key, value; paths made relative)."""
        if summary is not None:
            self._write(summary.reset_index(), "summary")
        if metadata:
            values = relative_paths(metadata, data_dir)
            self._write(pd.DataFrame({"key": list(values), "value": list(values.values())}), "metadata")

    def _styles(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "f_table_catalog": "", "f_table_schema": "", "f_table_name": name, "f_geometry_column": "geom",
            "styleName": style.name, "styleQML": qml_style(name, style=style.key), "styleSLD": "",
            "useAsDefault": i == 0, "description": style.description, "owner": "landuse", "ui": "",
            "update_time": self.timestamp.rstrip("Z"),
        } for name in self.names for i, style in enumerate(layer_styles(name))])


@contextlib.contextmanager
def _gdal_date(timestamp: str):
    """GDAL writes this time into ``gpkg_contents.last_change`` instead of the clock's."""
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = timestamp if timestamp.endswith("Z") else timestamp + "Z"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old


@dataclass
class DbfField:
    """One ``.dbf`` column: name (≤ 10 characters), type ``C`` (text) or ``N`` (number), width,
    decimals, and the cells as written (``n × width`` bytes: numbers right-aligned, ``*`` when
    empty, as GDAL/shapelib write and read them; text left-aligned, blanks when empty)."""

    name: str
    type: str
    width: int
    decimals: int
    cells: np.ndarray

    @property
    def kind(self) -> str:
        return "text" if self.type == "C" else "integer" if self.decimals == 0 else "decimal"


def _field(name: str, kind: str, decimals: int, texts: list[bytes | None], width: int) -> DbfField:
    # one column at a time as a block of bytes: a Python object per cell of every column would
    # be about 50 bytes each (a state-wide parcel layer has some 60 million cells)
    empty = b" " * width if kind == "C" else b"*" * width
    pad = bytes.ljust if kind == "C" else bytes.rjust
    joined = b"".join(empty if v is None else pad(v, width) for v in texts)
    return DbfField(name, kind, width, decimals, np.frombuffer(joined, dtype=np.uint8).reshape(len(texts), width))


def dbf_field(name: str, column: str, values: pd.Series) -> DbfField:
    """A column as a ``.dbf`` field as narrow as its values allow: booleans and integers as
    integers, other numbers with :func:`decimals_of` decimals, text in its UTF-8 length."""
    if values.dtype == bool or pd.api.types.is_bool_dtype(values):
        texts = [None if pd.isna(v) else (b"1" if v else b"0") for v in values.astype(object)]
        return _field(name, "N", 0, texts, 1)
    if pd.api.types.is_integer_dtype(values):
        texts = [None if pd.isna(v) else str(int(v)).encode() for v in values.astype(object)]
        return _field(name, "N", 0, texts, max([len(t) for t in texts if t is not None], default=1))
    if pd.api.types.is_numeric_dtype(values):
        d = decimals_of(column, values)
        arr = np.round(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), d) + 0.0  # no "-0.00"
        fixed = _fixed_point(name, arr, d)
        if fixed is not None:
            return fixed
        fmt, finite = f"%.{d}f", np.isfinite(arr).tolist()
        texts = [(fmt % v).encode() if ok else None for v, ok in zip(arr.tolist(), finite, strict=True)]
        return _field(name, "N", d, texts, max([len(t) for t in texts if t is not None], default=d + 2 if d else 1))
    texts = [None if v is None or (isinstance(v, float) and math.isnan(v)) else _cut(str(v).encode("utf-8"), 254)
             for v in values.astype(object)]
    return _field(name, "C", 0, texts, max([len(t) for t in texts if t is not None] + [1]))


def _fixed_point(name: str, rounded: np.ndarray, decimals: int) -> DbfField | None:
    """The field of numbers already rounded to ``decimals`` as ``"%.<decimals>f"`` writes them,
    made for the whole column at once (about ten times faster than a string per value: the
    default region's Shapefiles hold two million numbers); None where a number is too large for
    its digits to be exact in a 64-bit integer, or there are none (then each is formatted on its own).

    A rounded number is the double nearest to ``k / 10**decimals`` for an integer ``k``, so its
    text is ``k``'s digits with the point set ``decimals`` places from the right.
    """
    finite = np.isfinite(rounded)
    scaled = np.where(finite, rounded, 0.0) * 10.0 ** decimals
    if len(scaled) == 0 or np.abs(scaled).max() >= 2.0 ** 52:
        return None
    k = np.rint(scaled).astype(np.int64)
    magnitude, negative = np.abs(k), k < 0
    # digits of |k|, at least one before the point; the text: sign, digits, the point among them
    powers = 10 ** np.arange(1, 17, dtype=np.int64)  # |k| < 2**52 has at most 16 digits
    count = np.maximum(1 + np.searchsorted(powers, magnitude, side="right"), decimals + 1)
    length = count + (1 if decimals else 0) + negative
    width = int(length[finite].max()) if finite.any() else (decimals + 2 if decimals else 1)
    cells = np.full((len(k), width), ord(" "), dtype=np.uint8)
    rows = np.arange(len(k))
    for j in range(int(count.max())):  # the j-th digit from the right
        col = width - 1 - j - (1 if decimals and j >= decimals else 0)
        has = j < count
        cells[has, col] = ord("0") + (magnitude[has] // 10 ** j) % 10
    if decimals:
        cells[:, width - 1 - decimals] = ord(".")
    cells[rows[negative], (width - length)[negative]] = ord("-")
    cells[~finite] = ord("*")
    return DbfField(name, "N", width, decimals, cells)


def _cut(data: bytes, limit: int) -> bytes:
    """UTF-8 bytes cut to ``limit`` at a character boundary."""
    return data if len(data) <= limit else data[:limit].decode("utf-8", "ignore").encode("utf-8")


#: Records of a ``.dbf`` put together and written at a time.
DBF_CHUNK_ROWS = 20_000


def write_dbf(path: str | os.PathLike, fields: list[DbfField], n: int, date: tuple[int, int, int]) -> Path:
    """A dBase III table (the ``.dbf`` of a Shapefile; text in UTF-8, said by the ``.cpg``).

    Numbers are right-aligned in their width, text left-aligned; an empty number is ``*`` (as
    GDAL/shapelib write and read it), empty text blanks. The records are written a chunk at a
    time, so the table is never held twice.
    """
    path = Path(path)
    record = 1 + sum(f.width for f in fields)
    header = struct.pack("<B3BIHH20x", 3, date[0] - 1900, date[1], date[2], n, 32 + 32 * len(fields) + 1, record)
    for f in fields:
        header += struct.pack("<11sc4xBB14x", f.name.encode("ascii"), f.type.encode("ascii"), f.width, f.decimals)
    with open(path, "wb") as out:
        out.write(header + b"\r")
        for start in range(0, n, DBF_CHUNK_ROWS):
            stop = min(start + DBF_CHUNK_ROWS, n)
            flag = np.full((stop - start, 1), ord(" "), dtype=np.uint8)  # " ": the record is not deleted
            out.write(np.concatenate([flag] + [f.cells[start:stop] for f in fields], axis=1).tobytes())
        out.write(b"\x1a")
    return path


def reason_codes(column: str, reasons: pd.Series) -> pd.Series:
    """A technology's reasons (``<t>_reason``: rule names, ``;``-separated) as the codes of its
    exclusion-share fields: ``settlement;building_group`` → ``set;bgrp``, as in ``wd_x_set`` and
    ``wd_x_bgrp`` (the Shapefile's fixed-width text would otherwise be the widest field by far; the
    GeoPackage keeps the names)."""
    technology, _ = _technology_of(column)
    prefix = f"{technology.abbreviation}_x_"

    def code(rule: str) -> str:
        if rule.startswith("land_cover_"):  # a class the technology does not use, named in full
            return "lc_" + rule.removeprefix("land_cover_")
        name = short_name(f"{technology.name}_excl_{rule}_share")
        return name[len(prefix):] if name.startswith(prefix) else rule

    codes = {r: code(r) for text in reasons.dropna().unique() for r in str(text).split(";") if r}
    return reasons.map(lambda t: ";".join(codes[r] for r in str(t).split(";") if r) if isinstance(t, str) else t)


def shapefile_reasons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame with every technology's reason column in :func:`reason_codes`."""
    cols = [c for c in gdf.columns if c.endswith("_reason") and _technology_of(c)[0] is not None]
    return gdf.assign(**{c: reason_codes(c, gdf[c]) for c in cols}) if cols else gdf


def write_shapefiles(results: dict[str, gpd.GeoDataFrame], folder: str | os.PathLike, *,
                     timestamp: str | None = None) -> Path:
    """One Shapefile per result layer (EPSG:25833, UTF-8 ``.cpg``, ``.qml`` styles) and
    ``fields.csv`` (layer, short name, full name, unit, description, type, width, decimals). The
    folder is replaced as a whole.

    Field names after :func:`short_names`; numbers as narrow as their decimals allow
    (:func:`dbf_field`). ``timestamp`` (ISO) is the date in the ``.dbf`` headers (default: today).
    """
    with _ShapefileFolder(folder, timestamp) as shapefiles:
        for name, gdf in _layers(results):
            shapefiles.layer(name, gdf)
    return Path(folder)


class _ShapefileFolder(contextlib.AbstractContextManager):
    """A folder of Shapefiles written layer by layer into a temporary folder, which replaces
    ``folder`` with ``fields.csv`` and ``README.txt`` when the block ends without error."""

    def __init__(self, folder: str | os.PathLike, timestamp: str | None):
        self.folder = Path(folder)
        self.day = pd.Timestamp(timestamp[:10] if timestamp else pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d"))
        self.rows: list[dict] = []

    def __enter__(self):
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}{TEMP_MARK}", dir=self.folder.parent))
        umask = os.umask(0)
        os.umask(umask)
        self.tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the export is for everyone who may read it
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self._finish()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def layer(self, name: str, gdf: gpd.GeoDataFrame) -> None:
        """A result layer (EPSG:25833, cleaned): ``.shp``/``.shx``/``.prj``/``.cpg`` by GDAL, the
        ``.dbf`` with fitting widths, the ``.qml`` styles."""
        day = self.day
        gdf = shapefile_reasons(gdf)
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        mapping = short_names(cols)
        # GDAL writes the geometry (.shp, .shx, .prj, .cpg); the table is ours, with fitting widths
        write_in_chunks(gdf[[gdf.geometry.name]], self.tmp / f"{name}.shp", driver="ESRI Shapefile",
                        encoding="UTF-8", layer_options={"DBF_DATE_LAST_UPDATE": day.strftime("%Y-%m-%d")},
                        geometry_type=geometry_type(name), promote_to_multi=geometry_type(name) != "Point")
        fields = [dbf_field(mapping[c], c, gdf[c]) for c in cols]
        write_dbf(self.tmp / f"{name}.dbf", fields, len(gdf), (day.year, day.month, day.day))
        for i, style in enumerate(layer_styles(name)):
            qml = self.tmp / (f"{name}.qml" if i == 0 else f"{name}.{style.key}.qml")
            qml.write_text(qml_style(name, mapping, style.key), encoding="utf-8")
        self.rows += [{"layer": name, "short_name": f.name, "long_name": c, "unit": unit_of(c),
                       "description": describe(c, name), "type": f.kind, "width": f.width, "decimals": f.decimals}
                      for c, f in zip(cols, fields, strict=True)]

    def _finish(self) -> None:
        pd.DataFrame(self.rows, columns=["layer", "short_name", "long_name", "unit", "description", "type", "width",
                                         "decimals"]).to_csv(self.tmp / "fields.csv", index=False, encoding="utf-8")
        (self.tmp / "README.txt").write_text(
            "Shapefiles of the landuse results, EPSG:25833 (ETRS89 / UTM 33N), UTF-8.\n"
            "Field names have at most 10 characters: a technology's prefix (wd_, pv_, af_, ...) and the measure,\n"
            "e.g. wd_score, pv_el_ha (eligible ha), af_x_set (share excluded by the settlement rule);\n"
            "fields.csv gives each field's full name, unit and description (scheme: docs/shapefiles.md).\n"
            "Each layer has a QGIS style (.qml) beside it, which QGIS loads with the layer; parcels.<style>.qml\n"
            "are further styles (Layer Properties > Symbology > Style > Load Style).\n", encoding="utf-8")
        swap_folder(self.tmp, self.folder)


# --- workbook ------------------------------------------------------------------------------

@dataclass
class Sheet:
    """A workbook sheet: a table with long column names (its index becomes the first columns);
    ``words``: headers in words with units (:func:`column_header`), else the names as they are."""

    table: pd.DataFrame
    words: bool = True


def _frame_of(table: pd.DataFrame) -> pd.DataFrame:
    if isinstance(table.index, pd.RangeIndex) and table.index.name is None:
        return table
    names = [n or ("area" if i == 0 else f"level_{i}") for i, n in enumerate(table.index.names)]
    return table.rename_axis(names).reset_index()


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _shown_width(value, fmt: str, decimals: int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and decimals is not None:
        if fmt.endswith("%"):
            return len(f"{value:.{max(decimals - 2, 0)}%}")
        return len(f"{value:,.{decimals}f}")
    return len(str(value))


def _write_sheet(ws, sheet: Sheet) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    frame = _frame_of(sheet.table)
    header_font, fill = Font(bold=True), PatternFill("solid", fgColor="E8E8E8")
    heights = [1]
    for j, col in enumerate(frame.columns, start=1):
        col = str(col)
        header = column_header(col) if sheet.words else col
        fmt, decimals = number_format(col)
        values = [_cell(v) for v in frame[col].tolist()]
        if decimals is not None:
            values = [round(v, decimals) if isinstance(v, float) else v for v in values]
        head = ws.cell(row=1, column=j, value=header)
        head.font, head.fill = header_font, fill
        head.alignment = Alignment(wrap_text=True, vertical="top")
        for i, v in enumerate(values, start=2):
            c = ws.cell(row=i, column=j, value=v)
            if decimals is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
                c.number_format = fmt
        longest_word = max((len(w) for w in header.split()), default=1)
        width = max([_shown_width(v, fmt, decimals) for v in values] + [longest_word, min(len(header), 16)])
        width = min(width, 60) + 2
        ws.column_dimensions[get_column_letter(j)].width = width
        heights.append(math.ceil(len(header) / max(width - 2, 1)))
    ws.row_dimensions[1].height = 15 * min(max(heights), 6)
    ws.freeze_panes = "B2" if len(frame.columns) > 1 else "A2"
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"


def write_workbook(tables: dict[str, pd.DataFrame | Sheet], path: str | os.PathLike, *,
                   timestamp: str | None = None) -> Path:
    """An Excel workbook with one sheet per table (sheet names cut to 31 characters): headers in
    words with units, numbers rounded and formatted (:func:`number_format`), shares as
    percentages, the header row frozen, columns as wide as their values.

    ``timestamp`` (ISO, UTC) is the workbook's creation date; with it the same tables give the
    same bytes (the archive's member dates are fixed too).
    """
    from openpyxl import Workbook

    path = Path(path)
    when = pd.Timestamp(timestamp).tz_localize(None) if timestamp else None
    with atomic_path(path) as tmp:
        book = Workbook()
        book.remove(book.active)
        for name, table in tables.items():
            _write_sheet(book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "-", name)[:31]),
                         table if isinstance(table, Sheet) else Sheet(table))
        if when is not None:
            book.properties.created = when.to_pydatetime()
        book.save(tmp)
        if when is not None:
            _fix_dates(tmp, when)
    return path


def _fix_dates(path: Path, when: pd.Timestamp) -> None:
    """Rewrite a workbook with every archive member and its 'modified' property dated ``when``
    (openpyxl stamps the time of saving)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            dst.writestr(zipfile.ZipInfo(name, date_time=when.timetuple()[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def _with_range(columns: list[str], present) -> list[str]:
    return [c for base in columns for c in (base, f"{base}_low", f"{base}_high") if c in present]


#: Potential columns of Agri-PV: reported apart from the totals (it competes with PV and farming
#: for the same good farmland), on a sheet of their own.
APART = "agri_pv_"


def balance_sheets(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The balance for spreadsheet users: a sheet per tier and accounting frame, and the
    potentials reported apart (Agri-PV) on their own.

    - ``<tier> – avoided emissions``: each technology's potential columns (central; Agri-PV
      apart), the avoided emissions and sinks of all technologies with low/high, the load and
      its coverage;
    - ``<tier> – territorial``: what enters the territorial (BISKO) balance: fossil heat
      replaced and its coverage of the load, sinks beside it, local electricity and its share of
      the energy use; the technologies' territorial and electricity columns (central);
    - ``Agri-PV``: Agri-PV, reported apart from the totals, by tier, low/central/high.
    """
    outputs = technologies.all_outputs()
    present = set(summary.columns)
    keys = [c for c in ("level", "share_realised") if c in present]
    avoided = ([o.column for o in outputs if not o.column.startswith(APART) and o.column in present]
               + _with_range(["avoided_t_co2e_a", "sequestered_t_co2e_a"], present)
               + [c for c in ("emission_load_t_co2e_a", "emission_load_year") if c in present]
               + _with_range(["coverage_avoided_share"], present))
    territorial = ([o.column for o in outputs
                    if o.in_total and (o.territorial or o.electricity) and o.column in present]
                   + _with_range(["territorial_t_co2e_a"], present)
                   + [c for c in ("emission_load_t_co2e_a", "emission_load_year") if c in present]
                   + _with_range(["coverage_territorial_share", "sinks_t_co2e_a", "local_electricity_mwh_a"], present)
                   + [c for c in ("energy_use_mwh_a",) if c in present]
                   + _with_range(["electricity_share_of_energy_use"], present))
    tiers = list(dict.fromkeys(summary["tier"])) if "tier" in present else [None]
    sheets: dict[str, pd.DataFrame] = {}
    for tier in tiers:
        block = summary if tier is None else summary[summary["tier"] == tier]
        label = tier or "balance"
        sheets[f"{label} – avoided emissions"] = block[keys + avoided]
        sheets[f"{label} – territorial"] = block[keys + territorial]
    apart = _with_range([o.column for o in outputs if o.column.startswith(APART)], present)
    if apart:
        sheets["Agri-PV"] = summary[[c for c in ("level", "tier", "share_realised") if c in present] + apart]
    return sheets


#: Workbook sheet names of the tables export_all is given (others keep their key).
TABLE_SHEETS = {"frames": "overview", "trajectory": "trajectory", "suitability": "suitability",
                "parameters": "parameters"}


def workbook_sheets(summary: pd.DataFrame | None, tables: dict[str, pd.DataFrame] | None,
                    fields: pd.DataFrame | None) -> dict[str, pd.DataFrame | Sheet]:
    """The sheets of ``landuse.xlsx`` in order: overview (tier × frame in words), a sheet per
    tier and frame, Agri-PV, trajectory, suitability, parameters (as they are), the field list
    and all figures of the balance."""
    tables = dict(tables or {})
    sheets: dict[str, pd.DataFrame | Sheet] = {}
    if "frames" in tables:
        sheets["overview"] = tables.pop("frames")
    if summary is not None:
        sheets.update(balance_sheets(summary))
    for key in ("trajectory", "suitability"):
        if key in tables:
            sheets[TABLE_SHEETS[key]] = tables.pop(key)
    if "parameters" in tables:
        sheets["parameters"] = Sheet(tables.pop("parameters"), words=False)  # kept as it is
    sheets.update(tables)
    if fields is not None:
        sheets["fields"] = fields
    if summary is not None:
        sheets["all figures"] = summary
    return sheets


def export_all(results: dict[str, gpd.GeoDataFrame], out: str | os.PathLike, *, summary: pd.DataFrame | None = None,
               tables: dict[str, pd.DataFrame] | None = None, metadata: dict | None = None,
               timestamp: str | None = None, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write ``landuse.gpkg`` (layers, summary, styles), ``shapefiles/``, ``summary.csv`` and
    ``landuse.xlsx`` into ``out``.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (:func:`landuse.suitability.result_layers`).
    out : path-like
        Output folder.
    summary : DataFrame, optional
        The balance.
    tables : dict of str to DataFrame, optional
        Further workbook sheets (``frames``, ``trajectory``, ``suitability``, ``parameters``;
        see :func:`workbook_sheets`).
    metadata : dict, optional
        Table ``metadata`` of the GeoPackage.
    timestamp : str, optional
        Change date written into the files (see :func:`write_geopackage`).
    data_dir : path-like, optional
        Data directory the metadata's paths are made relative to (default: the folder the
        source paths share).

    Returns
    -------
    dict of str to Path
        ``gpkg``, ``shapefiles``, ``summary_csv``, ``xlsx``.
    """
    out = Path(out)
    paths = {"gpkg": out / "landuse.gpkg", "shapefiles": out / "shapefiles"}
    with _GeoPackage(paths["gpkg"], _names(results), timestamp) as gpkg, \
            _ShapefileFolder(paths["shapefiles"], timestamp) as shapefiles:
        # each layer is snapped once for both formats and let go before the next
        for name, gdf in _layers(results):
            gpkg.layer(name, gdf)
            shapefiles.layer(name, gdf)
            del gdf
        gpkg.tables(summary, metadata, data_dir)
    if summary is not None:
        paths["summary_csv"] = write_table(summary, out / "summary.csv")
    fields = pd.read_csv(out / "shapefiles" / "fields.csv", keep_default_na=False)
    paths["xlsx"] = write_workbook(workbook_sheets(summary, tables, fields.set_index("layer")), out / "landuse.xlsx",
                                   timestamp=timestamp)
    return paths


__all__ = ["export_all", "write_geopackage", "write_shapefiles", "write_workbook", "write_in_chunks", "short_names",
           "short_name", "unit_of", "describe", "column_header", "qml_style", "layer_styles", "clean_geometries",
           "write_dbf", "relative_paths", "balance_sheets", "workbook_sheets", "Sheet"]
