"""Interactive Folium maps for planners: the realistic tier's allocation, scores, eligible areas,
turbines, tree strips and municipal borders, a legend, and a panel with the balance.

A click on any parcel opens one popup for the parcel: its headline first (the use the realistic
tier gives it, each technology's score and why), then per technology folded details (estimates,
criteria, every exclusion in words with its source). The words come from the rule sets: each
exclusion's buffer, the features it applies to (its layer and filter) and its ``source``.

Size: the page holds every geometry once (one data block that all layers read, built into
Leaflet layers when a layer is first shown), coordinates as encoded polylines (Google's
algorithm) at 1e-5° (≈ 1 m, below the display simplification of 5 m by default; riparian strips
1 m), and per-parcel values as columns. The analysis and the exports keep full precision.

Leaflet and its plugins are embedded by default, so a map opens offline (tiles aside); the
map's own script and style (``landuse/static/landuse-map.*``) are always inline.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
import mimetypes
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from jinja2 import Template

from landuse import technologies as registry
from landuse.config import WEB_CRS
from landuse.errors import ConfigError
from landuse.geometry import map_chunks
from landuse.io import atomic_path
from landuse.technologies import ResultLayer, Technology

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SCORE_COLORS = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]
#: Local copies of the CDN assets folium references (file name → local file); others are dropped
#: when embedding (jQuery, Bootstrap, Font Awesome: not used by these maps).
ASSETS = {
    "leaflet.js": "leaflet.js", "leaflet.css": "leaflet.css",
    "Control.FullScreen.min.js": "Control.FullScreen.js", "Control.FullScreen.css": "Control.FullScreen.css",
    "leaflet-measure.min.js": "leaflet-measure.js", "leaflet-measure.min.css": "leaflet-measure.css",
}
#: The map's own script and style, inline in every map (embedded or not).
OWN_ASSETS = ("landuse-map.js", "landuse-map.css")
#: Decimals of the coordinates (degrees): 1e-5° ≈ 1.1 m north-south, 0.7 m east-west at 51° N.
PRECISION = 5
#: Paths encoded at once (:func:`_encode_paths`): some ten megabytes of temporary arrays.
PATHS_PER_BLOCK = 10_000
#: Which tier the popups' estimates are from (the pipeline passes the realistic potential).
POPUP_TIER = "realistic tier"
EXCLUDED_COLOR = "#bbbbbb"
STATUS_WORDS = {"SRC": "sourced", "EST": "estimate", "UNV": "unverified"}


class Raw(Element):
    """Text put into the page as it is (no template: the data block holds braces)."""

    def __init__(self, text: str):
        super().__init__("")
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class DataBlock(Element):
    """The map's data block, ``<script type="application/json" id="landuse-data">``, held as
    UTF-8 pieces of its JSON (:func:`_json_pieces`).

    All of Saxony's data block is about 70 MB of JSON. As one string in a folium page, each of
    folium's render steps, the asset embedding, the id renumbering and the final encoding made
    one more copy of it (a str with any character beyond Latin-1 takes 2 bytes per character).
    :func:`save_map` renders the page with a mark in its place and writes the pieces into the file
    between the page's two halves; only the small page is searched for ids and assets. With the
    block-wise encoding (:func:`_encode_paths`) and the shown columns only, all of Saxony's
    peak fell from 5,750 to 4,682 MiB.
    """

    MARK = "<!--landuse-data-block-->"

    def __init__(self, data: dict):
        super().__init__("")
        self.pieces = list(_json_pieces(data))
        self.as_mark = False

    def render(self, **kwargs) -> str:
        if self.as_mark:
            return self.MARK
        return (f'<script type="application/json" id="landuse-data">{b"".join(self.pieces).decode("utf-8")}'
                "</script>")

    def write(self, file) -> None:
        """Write the block's script element to a binary ``file``."""
        file.write(b'<script type="application/json" id="landuse-data">')
        for piece in self.pieces:
            file.write(piece)
        file.write(b"</script>")


def _json_pieces(data: dict, depth: int = 2):
    """``json.dumps(data)`` (compact, no NaN, ``</`` escaped for a script element) as UTF-8 pieces,
    one per value ``depth`` dicts down; ``data`` is emptied as it is written, so each value is
    freed once its JSON is made."""
    def script_json(value) -> bytes:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.replace("</", "<\\/").encode("utf-8")

    if depth == 0 or not isinstance(data, dict):
        yield script_json(data)
        return
    yield b"{"
    first = True
    while data:
        key = next(iter(data))
        value = data.pop(key)
        yield (b"" if first else b",") + script_json(key) + b":"
        yield from _json_pieces(value, depth - 1)
        del value
        first = False
    yield b"}"


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class DataLayer(Layer):
    """A layer of the map's data block (``landuse/static/landuse-map.js`` builds it when first shown)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = landuse.layer({{ this.spec|tojson }});
        {% endmacro %}
    """)

    def __init__(self, name: str, spec: dict, show: bool):
        # shown by landuse.setup once the view is set (each layer is drawn once, at its place)
        super().__init__(name=name, overlay=True, control=True, show=False)
        self._name = "DataLayer"
        self.spec = {**spec, "show": show}


class Setup(MacroElement):
    """Panel, legend, folding controls, the region fitted between the controls (added last)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        landuse.setup({{ this._parent.get_name() }}, {{ this.control.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, control: folium.LayerControl):
        super().__init__()
        self._name = "Setup"
        self.control = control


# ------------------------------------------------------------------------------------------
# geometry


def _web(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoSeries:
    """Geometries simplified in metres (display only) and reprojected to EPSG:4326."""
    geoms = gdf.geometry
    if tolerance_m > 0:
        # on the threads: topology-preserving simplification of every parcel is the maps' largest
        # single step (all of Saxony: about 40 s of the main stage on one thread)
        geoms = gpd.GeoSeries(map_chunks(lambda g: shapely.simplify(g, tolerance_m, preserve_topology=True),
                                         np.asarray(geoms.values)), index=geoms.index, crs=geoms.crs)
    return geoms.to_crs(WEB_CRS)


def _polyline_chars(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Google's polyline characters of signed integers: (characters, count per value)."""
    v = values.astype(np.int64)
    z = ((v << 1) ^ (v >> 63)).astype(np.uint64)  # zig-zag: the sign in the lowest bit
    chunks = np.stack([(z >> np.uint64(5 * k)) & np.uint64(31) for k in range(7)], axis=1)
    rest = np.stack([z >> np.uint64(5 * (k + 1)) for k in range(7)], axis=1)
    more = rest > 0
    valid = np.concatenate([np.ones((len(z), 1), bool), more[:, :-1]], axis=1)
    chars = (chunks | np.where(more, np.uint64(0x20), np.uint64(0))) + np.uint64(63)
    return chars[valid].astype(np.uint8), valid.sum(axis=1)


def _encode_paths(paths: np.ndarray, closed: bool, precision: int = PRECISION) -> list[str]:
    """Encoded polylines of line strings or linear rings (lat, lng pairs; a ring without its closing point).

    In blocks of :data:`PATHS_PER_BLOCK` paths: the vectorised encoding holds several hundred
    bytes per point while it runs (seven 64-bit columns per coordinate), which for all of Saxony's
    parcels at once was of the order of a gigabyte.
    """
    if len(paths) > PATHS_PER_BLOCK:
        return [text for k in range(0, len(paths), PATHS_PER_BLOCK)
                for text in _encode_paths(paths[k:k + PATHS_PER_BLOCK], closed, precision)]
    if len(paths) == 0:
        return []
    coords, index = shapely.get_coordinates(paths, return_index=True)
    q = np.round(coords[:, ::-1] * 10 ** precision).astype(np.int64)  # lat, lng
    n = np.bincount(index, minlength=len(paths))
    keep = np.ones(len(q), bool)
    if closed:  # Leaflet closes rings itself
        ends = np.cumsum(n) - 1
        keep[ends[n > 0]] = False
    same = np.zeros(len(q), bool)
    same[1:] = (index[1:] == index[:-1]) & (q[1:] == q[:-1]).all(axis=1)
    keep &= ~same  # repeated points after rounding
    q, index = q[keep], index[keep]
    start = np.ones(len(q), bool)
    start[1:] = index[1:] != index[:-1]
    delta = q.copy()
    delta[1:] -= q[:-1]
    delta[start] = q[start]  # each path starts absolute
    chars, per_value = _polyline_chars(delta.reshape(-1))
    per_path = np.bincount(np.repeat(index, 2), weights=per_value, minlength=len(paths)).astype(np.int64)
    text = chars.tobytes().decode("ascii")
    ends = np.cumsum(per_path)
    return [text[e - c:e] for c, e in zip(per_path.tolist(), ends.tolist(), strict=True)]


def _encode_polygons(geoms: np.ndarray, precision: int = PRECISION) -> list[list[list[str]]]:
    """Per geometry: its polygons, each a list of encoded rings (exterior first)."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    polys = shapely.get_type_id(parts) == 3
    parts, part_of = parts[polys], part_of[polys]
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    encoded = _encode_paths(rings, closed=True, precision=precision)
    out: list[list[list[str]]] = [[] for _ in range(len(geoms))]
    by_part: list[list[str]] = [[] for _ in range(len(parts))]
    for r, p in zip(encoded, ring_of.tolist(), strict=True):
        by_part[p].append(r)
    for p, g in zip(by_part, part_of.tolist(), strict=True):
        if p:
            out[g].append(p)
    return out


def _encode_lines(geoms: np.ndarray, precision: int = PRECISION) -> list[list[str]]:
    """Per geometry: its line strings, encoded."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    lines = shapely.get_type_id(parts) == 1
    encoded = _encode_paths(parts[lines], closed=False, precision=precision)
    out: list[list[str]] = [[] for _ in range(len(geoms))]
    for e, g in zip(encoded, part_of[lines].tolist(), strict=True):
        out[g].append(e)
    return out


def _points(geoms: np.ndarray, precision: int = PRECISION) -> list[list[float]]:
    xy = np.round(shapely.get_coordinates(geoms)[:, ::-1], precision)
    return xy.tolist()


# ------------------------------------------------------------------------------------------
# values


def _column(values, decimals: int | None = None) -> list:
    """Values for the data block: numbers rounded (integers without '.0'), missing as null."""
    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s):
        return s.tolist()
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() < s.notna().sum():  # text
        return [None if pd.isna(v) else str(v) for v in s]
    if decimals is not None:
        num = num.round(decimals)
    out = []
    for v in num.tolist():
        if v is None or v != v:
            out.append(None)
        elif float(v).is_integer() and abs(v) < 2**53:
            out.append(int(v))
        else:
            out.append(float(v))
    return out


def _words(code: str) -> str:
    return code.replace("_", " ")


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.1f}"


# ------------------------------------------------------------------------------------------
# reasons in words, from the rules' own declarations


#: What the features of a layer are called (the noun a filter's values qualify).
LAYER_NOUNS = {"landcover": "area", "roads": "road", "railways": "railway", "power_lines": "power line",
               "water_bodies": "water body", "waterways": "waterway", "protected_areas": "protected area",
               "aerodromes": "aerodrome", "buildings": "building", "building_groups": "dwelling",
               "approach_surfaces": "approach surface of a runway", "existing_plants": "existing plant"}
#: Filter values that name a feature themselves (else value + the layer's noun).
VALUE_NOUNS = {"motorway": "motorway", "trunk_primary": "federal road", "line": "power line",
               "aerodrome": "aerodrome", "runway": "runway", "navigationaid": "radio navigation aid",
               "NSG": "nature reserve", "NP": "national park", "FFH": "Natura 2000 habitat site",
               "SPA": "Natura 2000 bird site", "LSG": "landscape protection area"}
#: Line features: a rule without a buffer applies *on* them.
LINE_LAYERS = {"roads", "railways", "power_lines", "waterways"}
#: Reasons besides the exclusion rules that technologies add (code → value it reads, sentence).
EXTRA_REASONS = {
    "soil_agri_pv_only": ("agri_pv_nfk_mm", "farmland too good for conventional PV (plant-available water above "
                                            "{value:g} mm): Agri-PV only"),
    "min_patch": ("min_patch_ha", "eligible patches smaller than the minimum plant area of {value:g} ha"),
}
#: Land-cover classes in words.
CLASS_WORDS = {"arable": "arable land", "grassland": "grassland", "forest": "forest",
               "residential": "residential area", "industrial": "industrial or commercial area",
               "conversion": "conversion land (former military, landfill, quarry, brownfield)",
               "transport": "transport area", "water": "water", "other": "other land"}


def _class_words(cls: str) -> str:
    return CLASS_WORDS.get(cls, _words(cls))


def _feature(layer: str, where: str | None) -> str | None:
    """The features a rule applies to, in words (None: the filter is not understood)."""
    noun = LAYER_NOUNS.get(layer)
    if noun is None:
        return None
    if not where:
        return _article(noun)
    if layer == "building_groups":
        m = re.fullmatch(r"\s*group_size\s*(>=|>|<=|<)\s*(\d+)\s*", where)
        if not m:
            return None
        op, n = m.group(1), int(m.group(2))
        if op in (">=", ">"):
            least = n if op == ">=" else n + 1
            return "a dwelling" if least <= 1 else f"a group of {least} or more dwellings"
        most = n - 1 if op == "<" else n
        return "a single dwelling" if most <= 1 else f"a group of up to {most} dwellings"
    items: list[tuple[str, str]] = []  # (qualifier, noun)
    for clause in re.split(r"\s+or\s+", where.strip()):
        m = (re.fullmatch(r"`?\w+`?\s*==\s*'([^']+)'", clause.strip())
             or re.fullmatch(r"`?\w+`?\s+in\s+\[([^\]]*)\]", clause.strip()))
        if m is None:
            if re.fullmatch(r"(not\s+\w+|`?\w+`?\s*!=\s*'[^']*')", clause.strip()):
                continue  # a qualifier that leaves the features as the layer names them
            return None
        for value in re.findall(r"'([^']+)'", m.group(0)) if "[" in m.group(0) else [m.group(1)]:
            items.append(("", VALUE_NOUNS[value]) if value in VALUE_NOUNS else (_words(value), noun))
    if not items:
        return _article(noun)
    groups: dict[str, list[str]] = {}
    for qual, n in items:
        groups.setdefault(n, []).append(qual)
    phrases = []
    for n, quals in groups.items():
        quals = [q for q in quals if q]
        if quals:
            joined = quals[0] if len(quals) == 1 else ", ".join(quals[:-1]) + " or " + quals[-1]
            phrases.append(f"{joined} {n}")
        else:
            phrases.append(n)
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return _article(text)


def _short_source(source: str) -> str:
    """The legal reference of a source (``SächsBO §84(2) (2022): 1000 m …`` → ``SächsBO §84(2) (2022)``)."""
    head = source.split(": ", 1)[0]
    return head if "§" in head and head != source else source


def _measured_from(rules) -> dict[str, str]:
    """Rule name → ``tower`` or ``rotor`` as the rule file declares it (tower by default)."""
    path = getattr(rules, "path", None)
    if not path or not Path(path).is_file():
        return {}
    from landuse.schema import read_yaml

    try:
        raw = read_yaml(path, what="Criteria file") or {}
    except ConfigError:
        return {}
    return {str(e.get("name")): str(e.get("measured_from") or "tower") for e in raw.get("exclusions") or []
            if isinstance(e, dict)}


def exclusion_sentence(rule, rotor_radius_m: float = 0.0, measured_from: str = "tower") -> str:
    """An exclusion rule in words: ``closer than 1,000 m to a residential area``.

    Parameters
    ----------
    rule : landuse.criteria.Exclusion
        Its buffer (m), layer and filter.
    rotor_radius_m : float
        Wind: buffers measured from the tower were reduced by the rotor radius when the rules
        were read (the eligible area is where the rotor may be); the sentence gives the distance
        as declared.
    measured_from : {"tower", "rotor"}
    """
    feature = _feature(rule.layer, rule.where) or _words(rule.name)
    buffer = rule.buffer_m + (rotor_radius_m if measured_from == "tower" else 0.0)
    if buffer <= 0:
        overhang = " (rotor overhang included)" if measured_from == "rotor" and rotor_radius_m else ""
        return f"{'on' if rule.layer in LINE_LAYERS else 'inside'} {feature}{overhang}"
    rotor = " (from the rotor tip)" if measured_from == "rotor" and rotor_radius_m else ""
    return f"closer than {_num(buffer)} m{rotor} to {feature}"


def reason_words(tech: Technology, rules, codes: list[str]) -> list[dict]:
    """Each reason code of a technology in words, with its source and status.

    Parameters
    ----------
    tech : Technology
    rules : landuse.criteria.RuleSet or None
        The rule set the results come from (None: words from the codes alone).
    codes : list of str
        Codes as the ``<technology>_reason`` column holds them (exclusion names,
        ``land_cover_<class>`` and what the technology adds).

    Returns
    -------
    list of dict
        ``code``, ``text``, ``source`` (full), ``short`` (the legal reference), ``status``
        (sourced / estimate / unverified, or empty) and, where a rule has one, a ``note``
        (e.g. the repowering distance).
    """
    rule_of = {e.name: e for e in rules.exclusions} if rules is not None else {}
    values = rules.values if rules is not None else {}
    params = getattr(rules, "parameters", {}) or {}
    rotor_r = values.get("rotor_diameter_m", 0.0) / 2
    measured = _measured_from(rules) if rules is not None else {}
    out = []
    for code in codes:
        text, source, status, note = _words(code), "", "", ""
        if code in rule_of:
            rule = rule_of[code]
            text = exclusion_sentence(rule, rotor_r, measured.get(code, "tower"))
            repowering = getattr(rule, "repowering_buffer_m", None)
            if repowering is not None:
                back = rotor_r if measured.get(code, "tower") == "tower" else 0.0
                note = f"a turbine replacing an existing one may come to {_num(repowering + back)} m"
            source, status = rule.source, rule.status
        elif code.startswith("land_cover_"):
            cls = code.removeprefix("land_cover_")
            eligible = ", ".join(_class_words(c) for c in rules.eligible_classes) if rules is not None else ""
            text = f"land cover {_class_words(cls)}: not eligible" + (f" (eligible: {eligible})" if eligible else "")
            source = "eligible land cover of the rule set" + (f" {Path(rules.path).name}" if rules is not None
                                                               and rules.path else "")
        elif code in EXTRA_REASONS and EXTRA_REASONS[code][0] in values:
            name, template = EXTRA_REASONS[code]
            text = template.format(value=values[name])
            if name in params:
                source, status = params[name].source, params[name].status
        out.append({"code": code, "text": text, "source": source, "short": _short_source(source) if source else "",
                    "status": STATUS_WORDS.get(status, status), **({"note": note} if note else {})})
    return out


# ------------------------------------------------------------------------------------------
# the data block


def _estimates(tech: Technology, columns) -> dict[str, tuple[str, int]]:
    """Potential columns shown in a technology's popups: column → (label with unit and tier, decimals)."""
    return {o.column: (f"{o.label} ({o.unit}, {POPUP_TIER if o.in_total else 'apart from both tiers'})", o.decimals)
            for o in tech.outputs if o.column in columns}


#: Words written in capitals in labels.
ACRONYMS = {"eeg": "EEG", "lsg": "LSG", "nsg": "NSG", "ffh": "FFH", "spa": "SPA", "pv": "PV", "nfk": "NFK"}


def _label(code: str) -> str:
    """A criterion's name as a label: ``eeg_corridor`` → ``EEG corridor``."""
    words = [ACRONYMS.get(w, w) for w in code.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def _criteria(tech: Technology, rules, parcels: pd.DataFrame) -> list[dict]:
    sources = {}
    if rules is not None and rules.path and Path(rules.path).is_file():
        from landuse.schema import read_yaml

        try:
            raw = read_yaml(rules.path, what="Criteria file") or {}
            sources = {str(s.get("name")): str(s.get("source", "")) for s in raw.get("scores") or []
                       if isinstance(s, dict)}
        except ConfigError:
            pass
    weights = {c.name: c.weight for c in rules.scores} if rules is not None else {}
    cols = [c for c in parcels.columns if c.startswith(f"{tech.name}_sub_")]
    return [{"key": c, "label": _label(c.removeprefix(f"{tech.name}_sub_")),
             "weight": weights.get(c.removeprefix(f"{tech.name}_sub_")),
             "source": sources.get(c.removeprefix(f"{tech.name}_sub_"), "")} for c in cols]


def _tech_block(tech: Technology, rules, parcels: pd.DataFrame, potential: pd.DataFrame | None,
                technical: pd.DataFrame | None) -> tuple[dict, dict]:
    """A technology's declarations (labels, reasons in words) and its per-parcel columns."""
    name = tech.name
    reason_col = parcels.get(f"{name}_reason", pd.Series("", index=parcels.index)).fillna("").astype(str)
    lists = [[c for c in r.split(";") if c] for r in reason_col]
    codes = sorted({c for r in lists for c in r})
    index = {c: k for k, c in enumerate(codes)}
    area = pd.to_numeric(parcels["area_ha"], errors="coerce").to_numpy(float)
    shares = {}
    for code in codes:
        col = f"{name}_excl_{code}_share"
        if col in parcels:
            shares[code] = pd.to_numeric(parcels[col], errors="coerce").to_numpy(float)
        elif code.startswith("land_cover_"):
            shares[code] = np.ones(len(parcels))
        elif code == "soil_agri_pv_only" and f"{name}_agri_pv_ha" in parcels:
            shares[code] = pd.to_numeric(parcels[f"{name}_agri_pv_ha"], errors="coerce").to_numpy(float) / \
                np.maximum(area, 1e-9)
    reasons = []
    for k, r in enumerate(lists):
        row = []
        for code in r:
            s = shares.get(code)
            pct = None if s is None or s[k] != s[k] else float(np.clip(s[k], 0, 1) * 100)
            row += [index[code], None if pct is None else (round(pct, 1) if pct < 1 else round(pct))]
        reasons.append(row)
    criteria = _criteria(tech, rules, parcels)
    est = _estimates(tech, potential.columns) if potential is not None else {}
    outputs = [o for o in tech.outputs if o.column in est]
    declared = {
        "name": name, "title": tech.title, "color": tech.color,
        "reasons": reason_words(tech, rules, codes), "criteria": criteria,
        "estimates": [{"label": o.label, "unit": o.unit, "decimals": o.decimals, "apart": not o.in_total,
                       "headline": o.headline} for o in outputs],
    }
    cols = {
        "e": _column(parcels.get(f"{name}_eligible_ha", pd.Series(0.0, index=parcels.index)), 2),
        "s": _column(parcels.get(f"{name}_score", pd.Series(np.nan, index=parcels.index)), 1),
        "sub": [_column(parcels[c["key"]], 0) for c in criteria],
        "r": reasons,
    }
    if outputs:
        cols["x"] = [_column(potential[o.column].reindex(parcels["parcel_id"]).to_numpy(), o.decimals)
                     for o in outputs]
    if technical is not None and outputs:
        cols["xt"] = [_column(technical[o.column].reindex(parcels["parcel_id"]).to_numpy(), o.decimals)
                      if o.column in technical else [None] * len(parcels) for o in outputs]
    for c in criteria:
        del c["key"]
    return declared, cols


def _uses(allocation: gpd.GeoDataFrame, ids: pd.Index, techs: list[Technology]) -> list:
    """Per parcel: the realistic tier's uses ([technology index, ha, …]; 0 for none)."""
    pos = {t.name: k for k, t in enumerate(techs)}
    a = allocation[allocation["use"].isin(pos)]
    ha = a.groupby(["parcel_id", "use"], sort=False)["ha"].sum()
    by_parcel: dict[str, list] = {}
    for (pid, use), v in sorted(ha.items(), key=lambda kv: (kv[0][0], pos[kv[0][1]])):
        by_parcel.setdefault(pid, []).extend([pos[use], round(float(v), 2)])
    return [by_parcel.get(pid, 0) for pid in ids]


def _result_data(gdf: gpd.GeoDataFrame, layer: ResultLayer, simplify_m: float, row_of: dict) -> dict:
    fields = [c for c in layer.fields if c in gdf.columns]
    out: dict = {}
    if layer.geometry == "point":
        out["pt"] = _points(gdf.to_crs(WEB_CRS).geometry.values)
    else:
        out["g"] = _encode_polygons(_web(gdf, layer.simplify_m if layer.simplify_m is not None
                                         else simplify_m).values)
    out["f"] = [_column(gdf[c], 3 if c.endswith(("_ha", "_mw")) else 2) for c in fields]
    if "parcel_id" in gdf:
        out["p"] = [row_of.get(p, -1) for p in gdf["parcel_id"]]
    return out


def _panel(summary: pd.DataFrame | None, techs: list[Technology], attribution: list[str]) -> tuple[str, str]:
    """Title and HTML of the balance panel: the realistic tier in both frames, the technical upper
    bound beside it (groups and region at the largest realised share)."""
    rows = []
    if summary is not None and len(summary):
        full = summary[summary["share_realised"] == summary["share_realised"].max()]
        tiers = full["tier"] if "tier" in full else pd.Series("technical", index=full.index)
        real = full[(tiers == "realistic").to_numpy()] if (tiers == "realistic").any() else full
        tech_rows = full[(tiers == "technical").to_numpy()]
        share = full["share_realised"].iloc[0]
        measures = [(o.label, o.column) for t in techs for o in t.outputs
                    if o.kind in ("avoided", "sequestered") and o.in_total and o.column in full.columns]
        td = "<td class='lu-n'>"
        for name, row in real[real["level"] != "municipality"].iterrows():
            load = row["emission_load_t_co2e_a"]
            cells = "".join(f"<tr><td>{html.escape(label)}</td>{td}{row[col]:,.0f}</td>{td}{_share(row[col], load)}"
                            "</td></tr>" for label, col in measures)
            total = row["avoided_t_co2e_a"] + row["sequestered_t_co2e_a"]
            low = row["avoided_t_co2e_a_low"] + row["sequestered_t_co2e_a_low"]
            high = row["avoided_t_co2e_a_high"] + row["sequestered_t_co2e_a_high"]
            upper = tech_rows[(tech_rows["level"] == row["level"]).to_numpy() & (tech_rows.index == name)]
            bound = (upper["avoided_t_co2e_a"] + upper["sequestered_t_co2e_a"]).iloc[0] if len(upper) else None
            rows.append(
                f"<div class='lu-pn'><b>{html.escape(str(name))}</b> · load {load:,.0f} t CO2e/a (territorial "
                "baseline)</div><div class='lu-note'>Realistic tier (one use per hectare), avoided-emissions frame "
                "(UBA, grid mix central):</div>"
                f"<table><tr><th></th><th>t CO2e/a</th><th>of load</th></tr>"
                f"{cells}<tr><td><b>Total</b></td>{td}<b>{total:,.0f}</b></td>{td}<b>{_share(total, load)}</b></td>"
                f"</tr></table><div class='lu-note'>range {_share(low, load)}–{_share(high, load)}"
                + (f"; technical upper bound {bound:,.0f} t CO2e/a" if bound is not None else "") + "</div>"
                "<div class='lu-terr'>Territorial frame (BISKO): fossil heat replaced "
                f"{row['territorial_t_co2e_a']:,.0f} t CO2e/a = {_share(row['territorial_t_co2e_a'], load)} of the "
                f"load; sinks {row['sinks_t_co2e_a']:,.0f} t CO2e/a beside it; local electricity "
                f"{row['local_electricity_mwh_a']:,.0f} MWh/a = "
                f"{_share(row['local_electricity_mwh_a'], row['energy_use_mwh_a'])} of the energy use</div>")
        head = f"Balance: {share:.0%} of the potential realised"
    else:
        head = "Balance: not computed"
    sources = " · ".join(html.escape(a) for a in attribution)
    return head, f"{''.join(rows)}<div class='lu-note'>Data: {sources}</div>"


def _share(value: float, whole: float) -> str:
    return f"{value / whole:.1%}" if whole and whole == whole else "–"


def _symbol(color: str, kind: str = "fill", opacity: float = 1.0) -> str:
    """Legend symbol (HTML): fill, outline, point or line."""
    if kind == "point":
        return f"<i class='lu-sym lu-pt' style='background:{color}'></i>"
    if kind == "outline":
        return f"<i class='lu-sym' style='border:2px dashed {color}'></i>"
    if kind == "line":
        return f"<i class='lu-sym lu-ln' style='background:{color}'></i>"
    return f"<i class='lu-sym' style='background:{color};opacity:{opacity}'></i>"


def _legend(techs: list[Technology], allocation: bool, simplify_m: float) -> str:
    """HTML of the legend: score colours and one symbol per layer, with units."""
    grad = ", ".join(SCORE_COLORS)
    items = []
    if allocation:
        uses = " ".join(f"{_symbol(t.color, opacity=0.75)} {html.escape(t.title.split(' /')[0])}" for t in techs)
        items.append(f"<div>Realistic tier, use per hectare: {uses}</div>")
    scored = f"{html.escape(techs[0].title)} score" if len(techs) == 1 else "score"
    items.append(f"<div><i class='lu-ramp' style='background:linear-gradient(to right,{grad})'></i> "
                 f"{scored} 0 (poor) … 100 (good); <span class='lu-nw'>{_symbol(EXCLUDED_COLOR, opacity=0.6)} "
                 "excluded</span></div>")
    for tech in techs:
        items.append(f"<div>{_symbol(tech.color, opacity=0.6)} {html.escape(tech.title)}: eligible area (ha)</div>")
    for tech in techs:
        items += [f"<div>{_symbol(layer.color, 'point' if layer.geometry == 'point' else layer.style)} "
                  f"{html.escape(layer.title)}</div>" for layer in tech.layers]
    items.append(f"<div>{_symbol('#333', 'line')} Municipal border</div>")
    items.append(f"<div class='lu-note'>Click a parcel for its scores and reasons. Shapes simplified for display "
                 f"(≤ {simplify_m:g} m, tree strips ≤ 1 m); landuse.gpkg has the exact geometry.</div>")
    return "".join(items)


def build_map(
    results: dict[str, gpd.GeoDataFrame],
    boundaries: gpd.GeoDataFrame,
    *,
    potential: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    attribution: list[str] | None = None,
    technologies: list[str] | None = None,
    allocation: gpd.GeoDataFrame | None = None,
    rules: Mapping | None = None,
    simplify_m: float = 5.0,
    title: str = "landuse",
    _shared: dict | None = None,
) -> folium.Map:
    """An interactive map of the scoring results.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (:func:`landuse.suitability.result_layers`): ``parcels`` with
        ``<technology>_score`` etc., ``<technology>_eligible`` and each technology's own layers
        (EPSG:25833).
    boundaries : GeoDataFrame
        Municipal borders.
    potential : DataFrame, optional
        Potential per parcel (index parcel id) for the popups' estimates: the realistic tier, or
        both tiers with a ``tier`` column (realistic shown first, technical beside it).
    summary : DataFrame, optional
        The balance (:func:`landuse.carbon.balance` blocks) for the panel.
    attribution : list of str
        Data sources, shown in the panel and the map's attribution.
    technologies : list of str, optional
        Technologies to show (default: every registered one with results; one map per
        technology for handing out).
    allocation : GeoDataFrame, optional
        The realistic tier's parcel parts by use (:func:`landuse.allocation.allocate`); shown
        when the map opens, and each parcel's uses head its popup.
    rules : dict of str to RuleSet, optional
        The rule sets the results come from, for the reasons in words (default: the
        technologies' default rule files).
    simplify_m : float
        Display simplification tolerance (m); the analysis data keep full precision.
    title : str
        Page title.

    Returns
    -------
    folium.Map
    """
    techs = [registry.get(t) for t in technologies] if technologies else \
        [t for t in registry.technologies() if f"{t.name}_eligible_ha" in results["parcels"].columns]
    rules = dict(rules) if rules is not None else _default_rules([t.name for t in techs])
    attribution = attribution or ["© OpenStreetMap contributors"]
    b4326 = boundaries.to_crs(WEB_CRS)
    minx, miny, maxx, maxy = b4326.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=11, tiles=None, prefer_canvas=True,
                   zoom_snap=0.25)
    MetricScale().add_to(m)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap (base map, online)",
                     attr="Map tiles © OpenStreetMap contributors | Data: " + "; ".join(attribution)).add_to(m)
    m.get_root().html.add_child(Raw(f"<title>{html.escape(title)}</title>"))

    potential, technical = _tiers(potential)
    parcels = results["parcels"]
    # the candidates with the columns the map shows only: all of Saxony's parcels hold over a
    # gigabyte, most of it in columns no map reads (distances, raster statistics)
    shown = ["parcel_id", "municipality", "class", "area_ha", parcels.geometry.name,
             *[c for c in parcels.columns if c.startswith(tuple(f"{t.name}_" for t in techs))]]
    parcels = parcels.loc[parcels["candidate"].astype(bool).to_numpy(), shown].reset_index(drop=True)
    row_of = {p: k for k, p in enumerate(parcels["parcel_id"])}
    munis = sorted(parcels["municipality"].astype(str).unique())
    classes = sorted(parcels["class"].astype(str).unique())
    declared, per_tech = zip(*[_made_once(_shared, ("tech", t.name), lambda t=t: _tech_block(
        t, rules.get(t.name), parcels, potential, technical)) for t in techs], strict=True) if techs else ((), ())
    data: dict = {
        "precision": PRECISION, "colors": SCORE_COLORS, "excluded": EXCLUDED_COLOR,
        "municipalities": munis, "classes": [_class_words(c) for c in classes],
        "techs": list(declared), "technical": technical is not None,
        "parcels": {
            "g": _made_once(_shared, ("parcels", simplify_m),
                            lambda: _encode_polygons(_web(parcels, simplify_m).values)),
            "id": parcels["parcel_id"].astype(str).tolist(),
            "m": pd.Categorical(parcels["municipality"].astype(str), categories=munis).codes.tolist(),
            "c": pd.Categorical(parcels["class"].astype(str), categories=classes).codes.tolist(),
            "ha": _column(parcels["area_ha"], 2),
            "t": list(per_tech),
        },
        "layers": {},
        "bounds": [[round(miny, 5), round(minx, 5)], [round(maxy, 5), round(maxx, 5)]],
    }
    has_allocation = allocation is not None and len(allocation) > 0
    if has_allocation:
        data["parcels"]["u"] = _uses(allocation, parcels["parcel_id"], techs)
    layers: list[DataLayer] = []
    if has_allocation:
        parts = allocation[allocation["use"].isin([t.name for t in techs])]
        pos = {t.name: k for k, t in enumerate(techs)}
        data["layers"]["allocation"] = {
            "g": _encode_polygons(_web(parts, simplify_m).values),
            "p": [row_of.get(p, -1) for p in parts["parcel_id"]],
            "u": [pos[u] for u in parts["use"]],
            "f": [_column(parts["ha"], 2), _column(parts["avoided_t_co2e_a"], 0),
                  _column(parts["territorial_t_co2e_a"], 0)],
        }
        layers.append(DataLayer("Realistic tier: one use per hectare (allocation)",
                                {"kind": "allocation", "data": "allocation",
                                 "labels": ["Allocated (ha)", "Avoided emissions (t CO2e/a, avoided frame)",
                                            "Fossil heat replaced (t CO2e/a, territorial frame)"]}, show=True))
    layers.append(DataLayer("Parcels (outline; click for details)", {"kind": "parcels"}, show=has_allocation))
    for k, tech in enumerate(techs):
        # one score layer visible at a time (they cover the same parcels); excluded parcels grey
        layers.append(DataLayer(f"{tech.title}: score", {"kind": "score", "tech": k},
                                show=not has_allocation and tech is techs[-1]))
    for k, tech in enumerate(techs):
        elig = results.get(f"{tech.name}_eligible")
        if elig is not None and len(elig):
            key = f"{tech.name}_eligible"
            data["layers"][key] = {"g": _made_once(_shared, (key, simplify_m),
                                                   lambda elig=elig: _encode_polygons(_web(elig, simplify_m).values)),
                                   "p": [row_of.get(p, -1) for p in elig["parcel_id"]]}
            layers.append(DataLayer(f"{tech.title}: eligible area", {"kind": "eligible", "data": key, "tech": k},
                                    show=tech.show_eligible and len(techs) > 1 and not has_allocation))
    for k, tech in enumerate(techs):
        for layer in tech.layers:
            gdf = results.get(f"{tech.name}_{layer.key}")
            if gdf is not None and len(gdf):
                key = f"{tech.name}_{layer.key}"
                data["layers"][key] = _made_once(_shared, (key, simplify_m), lambda gdf=gdf, layer=layer: _result_data(
                    gdf, layer, simplify_m, row_of))
                fields = [c for c in layer.fields if c in gdf.columns]
                layers.append(DataLayer(layer.title, {
                    "kind": "points" if layer.geometry == "point" else "result", "data": key, "tech": k,
                    "color": layer.color, "style": layer.style, "title": layer.title,
                    "labels": [layer.fields[c] for c in fields]}, show=layer.show))
    # drawn as lines, not clickable: a polygon, even unfilled, takes the clicks meant for the parcels inside it
    data["layers"]["borders"] = {"g": _encode_lines(b4326.geometry.boundary.values),
                                 "f": [b4326["name"].astype(str).tolist()]}
    layers.append(DataLayer("Municipal borders", {"kind": "borders", "data": "borders"}, show=True))
    for layer in layers:
        layer.add_to(m)

    head, panel = _panel(summary, techs, attribution)
    data["panel"] = {"title": head, "html": panel}
    data["legend"] = {"title": "Legend", "html": _legend(techs, has_allocation, simplify_m)}
    root = m.get_root()
    root.html.add_child(DataBlock(data))
    root.html.add_child(Raw(_own_assets()))
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    folium.plugins.Fullscreen().add_to(m)
    folium.plugins.MeasureControl(position="topleft", primary_length_unit="meters",
                                  primary_area_unit="hectares").add_to(m)
    Setup(control).add_to(m)
    return m


def _tiers(potential: pd.DataFrame | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The realistic potential and, when given with a ``tier`` column, the technical one."""
    if potential is None or "tier" not in potential:
        return potential, None
    real = potential[potential["tier"] == "realistic"].drop(columns="tier")
    tech = potential[potential["tier"] == "technical"].drop(columns="tier")
    return (real if len(real) else tech), (tech if len(real) and len(tech) else None)


def _made_once(shared: dict | None, key: tuple, make: Callable[[], Any]) -> Any:
    """``make()``, or what it made before under ``key`` in ``shared``.

    :func:`write_maps` draws the same candidate parcels, eligible areas and result layers into
    ``map.html`` and again into each technology's map: their display geometry (simplified,
    reprojected, encoded) and per-parcel columns are made once for all maps (default region:
    about half of the maps' time). What is kept is never changed by a map: the data block
    empties only its own dicts as it writes them (:func:`_json_pieces`).
    """
    if shared is None:
        return make()
    if key not in shared:
        shared[key] = make()
    return shared[key]


def _default_rules(names: list[str]) -> dict:
    from landuse.criteria import load_rule_sets

    try:
        return load_rule_sets(technologies=names)
    except ConfigError as exc:
        log.warning("Map: the rule sets could not be read (%s); reasons are shown by their codes.", exc)
        return {}


def _own_assets() -> str:
    css = (STATIC / "landuse-map.css").read_text(encoding="utf-8")
    js = (STATIC / "landuse-map.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    return f"<style>{css}</style><script>{js}</script>"


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def embed_assets(page: str) -> str:
    """Replace the CDN ``<script>``/``<link>`` tags of a folium page by inline copies from
    ``landuse/static`` (images as data URIs); drop assets these maps do not use."""

    def script(match: re.Match) -> str:
        name = match.group(1).rsplit("/", 1)[-1]
        if name in ASSETS:
            code = (STATIC / ASSETS[name]).read_text(encoding="utf-8").replace("</script", "<\\/script")
            return f"<script>{code}</script>"
        return ""

    def style(match: re.Match) -> str:
        name = match.group(1).rsplit("/", 1)[-1]
        if name not in ASSETS:
            return ""
        css = (STATIC / ASSETS[name]).read_text(encoding="utf-8")
        css = re.sub(r"url\((?!#|data:)([^)]+)\)",
                     lambda u: f"url({_data_uri(STATIC / u.group(1).strip(chr(34) + chr(39)))})", css)
        return f"<style>{css}</style>"

    page = re.sub(r'<script src="(https?://[^"]+)"></script>', script, page)
    page = re.sub(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>', style, page)
    return page


def save_map(m: folium.Map, path: str | os.PathLike, *, embed: bool = True) -> Path:
    """Write a map to HTML through a temporary file; ``embed`` inlines the JS/CSS assets.

    Folium gives every element a random id; they are renumbered in order of appearance, so
    the same map gives the same bytes.
    """
    # folium adds elements while rendering: render a copy, so a map saved twice gives the same page
    root = copy.deepcopy(m).get_root()
    blocks = [e for e in root.html._children.values() if isinstance(e, DataBlock)]
    for block in blocks:
        block.as_mark = True  # the data go into the file as they are (see DataBlock)
    page = root.render()
    if embed:
        page = embed_assets(page)
    page = _stable_ids(page)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        rest = page
        for block in blocks:
            head, rest = rest.split(DataBlock.MARK, 1)
            file.write(head.encode("utf-8"))
            block.write(file)
        file.write(rest.encode("utf-8"))
    log.info("Wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def _stable_ids(page: str) -> str:
    ids: dict[str, str] = {}

    def number(match: re.Match) -> str:
        return ids.setdefault(match.group(0), f"{len(ids):032x}")

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", number, page)


def map_files(technologies: list[str]) -> list[str]:
    """File names :func:`write_maps` writes: ``map.html`` and ``map_<technology>.html`` each."""
    return ["map.html", *[f"map_{t}.html" for t in technologies]]


def write_maps(results: dict[str, gpd.GeoDataFrame], boundaries: gpd.GeoDataFrame, out: str | os.PathLike, *,
               potential: pd.DataFrame | None = None, summary: pd.DataFrame | None = None,
               attribution: list[str] | None = None, technologies: list[str] | None = None,
               allocation: gpd.GeoDataFrame | None = None, rules: Mapping | None = None, embed: bool = True,
               title: str = "landuse") -> list[Path]:
    """``map.html`` with every technology and ``map_<technology>.html`` for each one.

    Returns
    -------
    list of Path
        The files written (see :func:`map_files`).
    """
    out = Path(out)
    names = technologies or [t.name for t in registry.technologies()
                             if f"{t.name}_eligible_ha" in results["parcels"].columns]
    rules = dict(rules) if rules is not None else _default_rules(names)
    # what the maps share (the candidate parcels, each technology's layers) is made once for all
    common = {"potential": potential, "summary": summary, "attribution": attribution, "rules": rules, "_shared": {}}
    paths = [save_map(build_map(results, boundaries, technologies=names, allocation=allocation, title=title,
                                **common), out / "map.html", embed=embed)]
    for name in names:
        m = build_map(results, boundaries, technologies=[name], title=f"{title}: {registry.get(name).title}",
                      **common)
        paths.append(save_map(m, out / f"map_{name}.html", embed=embed))
    return paths


__all__ = ["build_map", "save_map", "write_maps", "embed_assets", "map_files", "reason_words", "exclusion_sentence"]
