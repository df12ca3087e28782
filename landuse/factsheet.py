"""A fact sheet per municipality for councils: ``factsheets/<municipality>.pdf``.

Four A4 pages drawn with matplotlib from the results of the run (EPSG:25833):

1. maps of the municipality's sites at one scale, a panel per technology (its eligible area in
   its registry colour, its own layers: placed turbines, tree strips, …; its numbered top
   sites) and one of the realistic tier (the allocation); municipal border, scale bar, north
   arrow and attribution;
2. its balance in both accounting frames (avoided emissions, territorial) and both tiers
   (realistic: the allocation, one use per hectare; technical: each technology alone, per
   technology and never added up) as bar charts, each figure naming its frame, tier and unit;
3. its eligible area by technology and the top sites with their reasons in words;
4. what data was missing (empty optional layers, skipped or partial rasters, criteria left
   out), sources and attribution, the method in brief.

The same inputs give the same bytes: no creation date unless ``$SOURCE_DATE_EPOCH`` sets one,
and nothing else that depends on the clock or the machine (no local paths).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib.util
import logging
import multiprocessing
import os
import pickle
import queue
import shutil
import sys
import tempfile
import textwrap
import threading
import types
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse import __version__
from landuse import technologies as registry
from landuse.errors import ConfigError, LanduseError
from landuse.geometry import thread_count
from landuse.io import TEMP_MARK, make_dir, swap_folder

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from landuse.criteria import RuleSet
    from landuse.technologies import Technology

log = logging.getLogger(__name__)

#: Folder of the fact sheets in the output folder.
FOLDER = "factsheets"
#: Pages of every fact sheet.
PAGES = 4
#: Top sites listed per technology.
TOP_SITES = 5
A4 = (8.27, 11.69)  # inches, portrait
BORDER = "#222222"
GREY = "#555555"
#: The weight of regular text: regular Helvetica's AFM file calls it "Medium".
REGULAR = "medium"
#: Text in Helvetica, one of the PDF standard fonts every reader has: nothing to embed, and
#: metrics from AFM files. An embedded TrueType font cost half of each sheet's time (font
#: subsets, glyph-by-glyph layout), which all of Saxony (426 sheets) felt. Every character the
#: sheets use is in the fonts' encoding (WinAnsi; checked by the tests). Mathtext tick labels:
#: the default tick formatter would otherwise probe for a TrueType Helvetica and warn.
FONT = {"font.family": "sans-serif", "font.sans-serif": ["Helvetica"], "pdf.use14corefonts": True,
        "font.weight": REGULAR, "axes.labelweight": REGULAR, "axes.formatter.use_mathtext": True,
        "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 7.5, "xtick.labelsize": 7, "ytick.labelsize": 7.5}

FRAME_WORDS = {"avoided": "Avoided-emissions frame (UBA method, grid mix)",
               "territorial": "Territorial frame (BISKO)"}


@dataclass
class SheetInputs:
    """What the fact sheets are drawn from (the results of one run).

    Attributes
    ----------
    results : dict of str to GeoDataFrame
        Result layers (:func:`landuse.suitability.result_layers`): ``parcels`` with the
        technologies' columns, ``<technology>_eligible`` and the technologies' own layers.
    boundaries : GeoDataFrame
        Municipal borders (``name``, ``ags``), EPSG:25833.
    summary : DataFrame
        The balance (:func:`landuse.carbon.balance` blocks of both tiers and every share).
    allocation : GeoDataFrame or None
        The realistic tier's parcel parts by use (``parcel_id``, ``use``, ``units``, ``ha``).
    suitability : DataFrame or None
        Eligible area per municipality (:func:`landuse.suitability.municipality_summary`).
    rule_sets : dict of str to RuleSet
        The rules in use, by technology (their order is the sheets' order).
    manifest : dict
        The layer store's manifest (sources, layer counts, notes on rasters).
    attribution : list of str
        Attribution lines of the sources.
    title : str
        The region's title.
    scenario : str
        Rule variant of the run.
    baseline : dict
        The region's ``baseline`` (its source, year and status are cited).
    parameters : str
        The parameter file in use, in words (no local path).
    out_of_range : list of str
        Values used outside their declared range, one line each.
    """

    results: dict[str, gpd.GeoDataFrame]
    boundaries: gpd.GeoDataFrame
    summary: pd.DataFrame
    allocation: gpd.GeoDataFrame | None = None
    suitability: pd.DataFrame | None = None
    rule_sets: Mapping[str, RuleSet] = field(default_factory=dict)
    manifest: Mapping[str, Any] = field(default_factory=dict)
    attribution: Sequence[str] = ()
    title: str = ""
    scenario: str = "default"
    baseline: Mapping[str, Any] = field(default_factory=dict)
    parameters: str = "landuse default (landuse/parameters/potential.yaml)"
    #: Values used outside their declared range (``--allow-out-of-range``), in words.
    out_of_range: Sequence[str] = ()

    @property
    def techs(self) -> list[Technology]:
        names = list(self.rule_sets) or [t.name for t in registry.technologies()
                                         if f"{t.name}_eligible_ha" in self.results["parcels"].columns]
        return [registry.get(n) for n in names]


# --- names ---------------------------------------------------------------------------------

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def slug(name: str) -> str:
    """A safe ASCII file name for a municipality: ``Leipzig`` → ``leipzig``, ``Südheim`` →
    ``suedheim``, ``Markkleeberg-Ost (Stadt)`` → ``markkleeberg-ost-stadt``."""
    text = unicodedata.normalize("NFKD", str(name).translate(_GERMAN)).encode("ascii", "ignore").decode()
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(p for p in out.split("-") if p) or "municipality"


def factsheet_files(names: Sequence[str], ags: Sequence[str] | None = None) -> dict[str, str]:
    """Municipality → file name (``<slug>.pdf``); names that give the same slug get their AGS."""
    slugs = [slug(n) for n in names]
    out = {}
    for i, (name, s) in enumerate(zip(names, slugs, strict=True)):
        if slugs.count(s) > 1:
            s = f"{s}-{ags[i]}" if ags is not None and ags[i] else f"{s}-{i + 1}"
        out[name] = f"{s}.pdf"
    return out


def municipalities(inputs: SheetInputs) -> list[tuple[str, str]]:
    """The region's municipalities as (name, AGS), in AGS order (as the balance lists them)."""
    b = inputs.boundaries.drop_duplicates("name").sort_values(["ags", "name"])
    return [(str(n), str(a or "")) for n, a in zip(b["name"], b["ags"], strict=True)]


# --- numbers in words --------------------------------------------------------------------------

def _num(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    if abs(x) >= 100 or x == 0:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:,.1f}"
    return f"{x:,.2f}"


def _pct(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:.1%}" if abs(x) < 0.1 else f"{x:.0%}"


_ACRONYMS = {"eeg": "EEG", "lsg": "LSG", "nsg": "NSG", "pv": "PV", "ffh": "FFH", "spa": "SPA", "np": "NP"}


def _words(name: str, *, capital: bool = False) -> str:
    """A rule's or criterion's name in words (``eeg_corridor`` → ``EEG corridor``)."""
    text = " ".join(_ACRONYMS.get(w, w) for w in name.replace("_", " ").split(" "))
    return text[:1].upper() + text[1:] if capital else text


def _short_source(source: str, limit: int = 44) -> str:
    """The head of a rule's source: its reference before the first colon, at most ``limit`` characters."""
    head = source.split(":", 1)[0].strip()
    if len(head) <= limit:
        return head
    return head[:limit].rsplit(" ", 1)[0].rstrip(" ,;(") + "…"


def reason_words(code: str, tech: Technology, rules: RuleSet | None, *, short: bool = False) -> str:
    """One exclusion code of a parcel (its ``<technology>_reason``) in words with its source
    (``short``: the source's reference only, e.g. ``SächsBO §84(2) (2022)``)."""
    if code.startswith("land_cover_"):
        return f"land cover '{code.removeprefix('land_cover_')}' is not eligible for {tech.title}"
    values = rules.values if rules is not None else {}
    if code == "soil_agri_pv_only":
        limit = values.get("agri_pv_nfk_mm")
        return ("good farmland" + (f" (water capacity ≥ {limit:g} mm)" if limit else "")
                + ": Agri-PV only, no conventional PV")
    if code == "min_patch":
        limit = values.get("min_patch_ha")
        return "parts smaller than the minimum plant area" + (f" of {limit:g} ha" if limit else "")
    rule = next((e for e in rules.exclusions if e.name == code), None) if rules is not None else None
    if rule is None:
        return _words(code)
    return f"{_words(rule.name)} — {_short_source(rule.source) if short else rule.source}"


# --- figures from the balance --------------------------------------------------------------------

def _row(summary: pd.DataFrame, name: str, tier: str, share: float) -> pd.Series | None:
    block = summary[(summary["level"] == "municipality") & (summary["tier"] == tier)
                    & (summary["share_realised"] == share)]
    return block.loc[name] if name in block.index else None


def _sum(row: pd.Series | None, columns: Sequence[str]) -> tuple[float, float, float]:
    """Central, low and high of the sum of ``columns`` in a balance row (0 where missing)."""
    if row is None:
        return 0.0, 0.0, 0.0

    def get(c):
        v = row.get(c, 0.0)
        return float(v) if v is not None and pd.notna(v) else 0.0

    return tuple(sum(get(c + sfx) for c in columns) for sfx in ("", "_low", "_high"))  # type: ignore[return-value]


def _columns(tech: Technology, measure: str) -> list[str]:
    """A technology's balance columns that make one measure of a frame."""
    keep = {"avoided_frame": lambda o: o.kind in ("avoided", "sequestered"),
            "heat": lambda o: o.territorial,
            "sinks": lambda o: o.kind == "sequestered",
            "electricity": lambda o: o.electricity}[measure]
    return [o.column for o in tech.outputs if o.in_total and keep(o)]


@dataclass
class Bar:
    label: str
    value: float
    low: float
    high: float
    color: str
    note: str = ""
    total: bool = False


def balance_bars(summary: pd.DataFrame, name: str, techs: Sequence[Technology], *, tier: str, measure: str,
                 share: float = 1.0) -> list[Bar]:
    """The bars of one chart: per technology (with a contribution to ``measure``), and for the
    realistic tier the total of the balance; technical figures are never added up."""
    row = _row(summary, name, tier, share)
    load = float(row["emission_load_t_co2e_a"]) if row is not None else np.nan
    energy = float(row["energy_use_mwh_a"]) if row is not None else np.nan
    whole = energy if measure == "electricity" else load
    of = "of the energy use" if measure == "electricity" else "of the load"
    bars = []
    for tech in techs:
        cols = _columns(tech, measure)
        if not cols:
            continue
        v, lo, hi = _sum(row, cols)
        note = f"{_pct(v / whole)} {of}" if measure != "sinks" and whole and np.isfinite(whole) else ""
        bars.append(Bar(tech.title, v, lo, hi, tech.color, note))
    if tier == "realistic" and row is not None and len(bars) > 1:
        total = {"avoided_frame": ["avoided_t_co2e_a", "sequestered_t_co2e_a"], "heat": ["territorial_t_co2e_a"],
                 "sinks": ["sinks_t_co2e_a"], "electricity": ["local_electricity_mwh_a"]}[measure]
        v, lo, hi = _sum(row, total)
        note = f"{_pct(v / whole)} {of}" if measure != "sinks" and whole and np.isfinite(whole) else ""
        bars.append(Bar("Total", v, lo, hi, "#444444", note, total=True))
    return bars


# --- drawing helpers -----------------------------------------------------------------------------

def _polygon_path(geoms: Sequence[shapely.Geometry]):
    """One compound matplotlib path of polygons (holes kept; drawn with the nonzero rule)."""
    from matplotlib.path import Path as MplPath

    verts, codes = [], []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        parts = shapely.get_parts(geom)
        for poly in parts:
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            poly = shapely.geometry.polygon.orient(poly, 1.0)
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring.coords)
                if len(xy) < 3:
                    continue
                verts.append(xy)
                codes.append(np.r_[MplPath.MOVETO, np.full(len(xy) - 2, MplPath.LINETO), MplPath.CLOSEPOLY])
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes).astype(np.uint8))


def _draw_polygons(ax: Axes, geoms, **style) -> bool:
    from matplotlib.patches import PathPatch

    path = _polygon_path(list(geoms))
    if path is None:
        return False
    # not add_patch: the map's extent is set by its view, and add_patch walks every Bézier
    # segment of the path to widen the data limits (about 15 % of a sheet's time)
    ax.add_artist(PathPatch(path, **style))
    return True


def _draw_lines(ax: Axes, geoms, **style) -> None:
    from matplotlib.collections import LineCollection

    segments = []
    for geom in geoms:
        for part in shapely.get_parts(geom):
            if part.geom_type == "LineString":
                segments.append(np.asarray(part.coords))
            elif part.geom_type == "LinearRing":
                segments.append(np.asarray(part.coords))
    if segments:
        ax.add_collection(LineCollection(segments, **style))


def _nice_length(width_m: float) -> float:
    """A round scale-bar length of about a fifth of the map's width."""
    target = width_m / 5
    steps = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000]
    return max([s for s in steps if s <= target] or [steps[0]])


def _scale_bar(ax: Axes, view: MapView) -> None:
    from matplotlib.patches import Rectangle

    width, height = view.w, view.h
    length = _nice_length(width)
    # its white box spans x - 1 % to x + length + 4 % of the width: 2 % off the frame either side
    x = view.x0 + (width * 0.94 - length if view.scale_right else width * 0.03)
    y, h = view.y0 + height * 0.03, height * 0.012
    ax.add_patch(Rectangle((x - width * 0.01, y - h * 1.2), length + width * 0.05, h * 5.2, facecolor="white",
                           edgecolor="none", alpha=0.85, zorder=20))
    for i in range(2):
        ax.add_patch(Rectangle((x + i * length / 2, y), length / 2, h, facecolor="black" if i == 0 else "white",
                               edgecolor="black", linewidth=0.6, zorder=21))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    for pos, text in ((0, "0"), (length, label)):
        ax.text(x + pos, y + h * 1.6, text, ha="center", va="bottom", fontsize=6, zorder=22)


def _north_arrow(ax: Axes) -> None:
    ax.annotate("N", xy=(0.94, 0.97), xytext=(0.94, 0.87), xycoords="axes fraction", textcoords="axes fraction",
                ha="center", va="center", fontsize=8, fontweight="bold", zorder=22,
                bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 2, "headwidth": 7,
                            "headlength": 7, "shrink": 0.0})


def _header(fig: Figure, name: str, inputs: SheetInputs, subtitle: str) -> None:
    _hang(fig, 0.06, 0.965, name, fontsize=18, fontweight="bold")
    variant = "" if inputs.scenario in ("", "default") else f" · rule variant {inputs.scenario}"
    _hang(fig, 0.06, 0.933, f"{subtitle} · {inputs.title}{variant}", fontsize=9, color=GREY)


def _footer(fig: Figure, name: str, page: int) -> None:
    fig.text(0.06, 0.018, f"landuse {__version__} · fact sheet {name}", fontsize=6.5, color=GREY)
    fig.text(0.94, 0.018, f"page {page} of {PAGES}", fontsize=6.5, color=GREY, ha="right")


#: Height of the capitals and ascenders above the baseline (Helvetica: 718/1000 em), and the
#: step between the lines of one text (matplotlib's, for this font).
ASCENT_EM, LINE_EM = 0.718, 1.16


def _hang(fig: Figure, x: float, y: float, text: str, *, fontsize: float, **style) -> None:
    """Text (one line or several, split at newlines) hanging from ``y`` (figure fraction): the top
    of its capitals there, whatever glyphs it holds.

    Matplotlib's ``va="top"`` measures each line's glyphs, and in the PDF standard fonts it counts
    a glyph that sits above the baseline (an apostrophe, a quote) as if it rose from the baseline
    by its top: a line holding one would hang lower than its neighbours.
    """
    em = fontsize / 72 / fig.get_figheight()
    for k, line in enumerate(text.split("\n")):
        fig.text(x, y - (ASCENT_EM + k * LINE_EM) * em, line, fontsize=fontsize, va="baseline", **style)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _paragraphs(fig: Figure, x: float, y: float, items: Sequence[tuple[str, str]], *, floor: float = 0.045,
                size: float = 7.5) -> float:
    """Write (style, text) items downwards from ``y`` (figure fraction), in the largest font size
    from ``size`` down to 5.5 pt at which they fit above ``floor``; returns the y below them.
    Styles: ``h`` heading, ``b`` bullet, ``p`` paragraph."""

    def layout(pt: float) -> tuple[float, float, int]:
        line, width = 0.0125 * pt / 7.5, int(126 * 7.5 / pt)
        need = 0.0
        for style, text in items:
            if style == "h":
                need += line * 2.3
            else:
                need += line * (len(_wrap(text, width - (3 if style == "b" else 0))) + 0.35)
        return line, need, width

    pt = size
    line, need, width = layout(pt)
    while y - need < floor and pt > 5.5:
        pt = round(pt - 0.25, 2)
        line, need, width = layout(pt)
    for k, (style, text) in enumerate(items):
        if y < floor:  # still too long at the smallest size: say so rather than run into the footer
            _hang(fig, x, y, f"… {len(items) - k} more lines: see the metadata table of landuse.gpkg.", fontsize=pt,
                  color=GREY)
            return y - line
        if style == "h":
            y -= line * 0.6
            _hang(fig, x, y, text, fontsize=pt + 2.5, fontweight="bold")
            y -= line * 1.7
            continue
        indent = 0.02 if style == "b" else 0.0
        if style == "b":
            _hang(fig, x + 0.005, y, "•", fontsize=pt)
        for ln in _wrap(text, width - (3 if style == "b" else 0)):
            _hang(fig, x + indent, y, ln, fontsize=pt)
            y -= line
        y -= line * 0.35
    return y


# --- page 1: the map -------------------------------------------------------------------------------

@dataclass
class Site:
    label: str
    tech: Technology
    parcel_id: str
    land_cover: str
    eligible_ha: float
    score: float
    realistic: str
    reasons: str
    point: shapely.Point | None


def top_sites(inputs: SheetInputs, name: str, n: int = TOP_SITES) -> list[Site]:
    """The ``n`` best-scored eligible parcels of each technology in a municipality (score, then
    eligible area), with what the realistic tier puts there and their reasons in words."""
    parcels = inputs.results["parcels"]
    mine = parcels[parcels["municipality"] == name]
    parts = inputs.allocation
    if parts is not None and len(parts):
        parts = parts[parts["municipality"] == name]
    sites = []
    for tech in inputs.techs:
        score, ha = f"{tech.name}_score", f"{tech.name}_eligible_ha"
        if score not in mine or ha not in mine:
            continue
        cand = mine[(mine[ha] > 0) & mine[score].notna()]
        cand = cand.assign(_pid=cand["parcel_id"].astype(str)).sort_values([score, ha, "_pid"],
                                                                            ascending=[False, False, True])
        elig = inputs.results.get(f"{tech.name}_eligible")
        geom_of = dict(zip(elig["parcel_id"].astype(str), elig.geometry, strict=True)) if elig is not None else {}
        rules = inputs.rule_sets.get(tech.name)
        subs = [c for c in cand.columns if c.startswith(f"{tech.name}_sub_")]
        for k, (_, p) in enumerate(cand.head(n).iterrows(), start=1):
            pid = str(p["parcel_id"])
            geom = geom_of.get(pid, p.geometry)
            point = geom.representative_point() if geom is not None and not geom.is_empty else None
            sites.append(Site(f"{tech.abbreviation[:1].upper() or tech.name[:1].upper()}{k}", tech, pid,
                              str(p.get("class", "")), float(p[ha]), float(p[score]),
                              _realistic_use(parts, pid), _site_reasons(p, tech, rules, subs), point))
    return sites


def _realistic_use(parts: gpd.GeoDataFrame | None, pid: str) -> str:
    if parts is None or not len(parts):
        return "–"
    mine = parts[parts["parcel_id"].astype(str) == pid]
    out = []
    for use, block in mine.groupby("use", sort=True):
        tech = registry.get(use)
        if tech.unit_points:
            n = block["units"].sum()
            what = tech.unit_points if round(n) != 1 else tech.unit_points.removesuffix("s")
            out.append(f"{tech.title}: {n:.0f} {what} ({block['ha'].sum():.1f} ha)")
        else:
            out.append(f"{tech.title}: {block['ha'].sum():.1f} ha")
    return "; ".join(out) or "not allocated"


def _site_reasons(p: pd.Series, tech: Technology, rules: RuleSet | None, subs: Sequence[str]) -> str:
    """Why a site ranks high (its strongest criteria), what holds it back, and what cuts it."""
    scores = {c.removeprefix(f"{tech.name}_sub_"): float(p[c]) for c in subs if pd.notna(p[c])}
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = []
    if ranked:
        parts.append("Strong: " + ", ".join(f"{_words(k)} {v:.0f}" for k, v in ranked[:2]))
        weak = [(k, v) for k, v in ranked[2:] if v < 60]
        if weak:
            parts.append("Weak: " + ", ".join(f"{_words(k)} {v:.0f}" for k, v in weak[-2:]))
    codes = [c for c in str(p.get(f"{tech.name}_reason", "") or "").split(";") if c]
    if codes:
        words = [reason_words(c, tech, rules, short=True) for c in codes[:2]]
        more = f" and {len(codes) - 2} more" if len(codes) > 2 else ""
        parts.append("Part excluded: " + "; ".join(words) + more)
    return ". ".join(parts) + "." if parts else "No criteria scored."


@dataclass
class MapView:
    """The frame of the map panels: the municipality with a margin, in the panels' proportions."""

    x0: float
    y0: float
    w: float
    h: float
    #: the scale bar stands in the bottom-right corner (else bottom-left)
    scale_right: bool = False

    @property
    def box(self) -> shapely.Polygon:
        return shapely.box(self.x0, self.y0, self.x0 + self.w, self.y0 + self.h)

    def scale_box(self, right: bool | None = None) -> tuple[float, float, float, float]:
        """The corner (x0, y0, x1, y1) the scale bar takes, which labels keep off."""
        right = self.scale_right if right is None else right
        x = self.x0 + (0.7 * self.w if right else 0.0)
        return (x, self.y0, x + 0.3 * self.w, self.y0 + 0.1 * self.h)

    @classmethod
    def around(cls, area: shapely.Geometry, aspect: float, pad: float = 1.06) -> MapView:
        """The frame around ``area``, with the scale bar in the bottom corner that covers less
        of it."""
        minx, miny, maxx, maxy = area.bounds
        w, h = max(maxx - minx, 1.0) * pad, max(maxy - miny, 1.0) * pad
        if w / h > aspect:
            h = w / aspect
        else:
            w = h * aspect
        view = cls((minx + maxx) / 2 - w / 2, (miny + maxy) / 2 - h / 2, w, h)
        covered = [area.intersection(shapely.box(*view.scale_box(right))).area for right in (False, True)]
        return dataclasses.replace(view, scale_right=covered[1] < covered[0])


def _in_municipality(inputs: SheetInputs, gdf: gpd.GeoDataFrame | None, name: str) -> gpd.GeoDataFrame | None:
    """The features of a result layer in one municipality (by its column, else by its parcel)."""
    if gdf is None or not len(gdf):
        return gdf
    if "municipality" in gdf.columns:
        return gdf[gdf["municipality"] == name]
    if "parcel_id" in gdf.columns:
        muni = inputs.results["parcels"].set_index("parcel_id")["municipality"]
        return gdf[gdf["parcel_id"].map(muni) == name]
    area = inputs.boundaries[inputs.boundaries["name"] == name].geometry.union_all()
    return gdf[gdf.geometry.intersects(area)]


def _shapes(gdf: gpd.GeoDataFrame | None, view: MapView) -> list:
    """Geometries clipped to the view and simplified for display (about 0.05 mm on the page)."""
    if gdf is None or not len(gdf):
        return []
    geoms = shapely.intersection(gdf.geometry.to_numpy(), view.box)
    geoms = shapely.simplify(geoms, max(view.w, view.h) / 6000, preserve_topology=True)
    return [g for g in geoms if g is not None and not g.is_empty]


def _map_panel(fig: Figure, rect: tuple[float, float, float, float], inputs: SheetInputs, name: str,
               view: MapView, title: str) -> Axes:
    """An empty map panel: the municipality white on grey, neighbours, scale bar and north arrow."""
    ax = fig.add_axes(rect)
    ax.set_xlim(view.x0, view.x0 + view.w)
    ax.set_ylim(view.y0, view.y0 + view.h)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#ececec")
    for s in ax.spines.values():
        s.set_linewidth(0.6)
        s.set_color(GREY)
    bounds = inputs.boundaries
    area = bounds[bounds["name"] == name].geometry.union_all()
    _draw_polygons(ax, [area], facecolor="white", edgecolor="none", zorder=1)
    near = bounds.iloc[np.sort(bounds.sindex.query(view.box, predicate="intersects"))]
    others = near[near["name"] != name]
    for g, nb in zip(others.geometry, others["name"], strict=True):
        inside = g.intersection(view.box)
        if inside.is_empty:
            continue
        _draw_lines(ax, [inside.boundary], colors="#9a9a9a", linewidths=0.5, zorder=13)
        if inside.area > 0.04 * view.box.area:
            pt = inside.representative_point()
            ax.text(pt.x, pt.y, nb, fontsize=6, color="#8a8a8a", ha="center", va="center", style="italic",
                    zorder=13)
    ax.set_title(title, loc="left", fontsize=7.8, fontweight="bold", pad=3)
    _scale_bar(ax, view)
    _north_arrow(ax)
    return ax


def _border(ax: Axes, inputs: SheetInputs, name: str) -> None:
    area = inputs.boundaries[inputs.boundaries["name"] == name].geometry.union_all()
    _draw_lines(ax, [area.boundary], colors=BORDER, linewidths=1.2, zorder=14)


def _page_map(fig: Figure, inputs: SheetInputs, name: str, sites: list[Site]) -> None:
    """Page 1: one panel per technology (its eligible area and its own layers, its top sites) and
    one of the realistic tier (the allocation), all at the same scale."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    _header(fig, name, inputs, "Fact sheet for the council: sites, balance, data")
    techs = inputs.techs
    area = inputs.boundaries[inputs.boundaries["name"] == name].geometry.union_all()
    panels = [*techs, None]  # None: the realistic tier
    ncols = 2
    nrows = int(np.ceil(len(panels) / ncols))
    left, right, top, bottom, gap_x, gap_y = 0.06, 0.94, 0.905, 0.24, 0.03, 0.035
    pw = (right - left - gap_x * (ncols - 1)) / ncols
    ph = (top - bottom - gap_y * (nrows - 1)) / nrows
    view = MapView.around(area, (pw * A4[0]) / (ph * A4[1]))
    elig_ha = _eligible_ha(inputs, name)
    land = float(area.area / 1e4)
    handles: list = []
    for i, tech in enumerate(panels):
        r, c = divmod(i, ncols)
        rect = (left + c * (pw + gap_x), top - (r + 1) * ph - r * gap_y, pw, ph)
        if tech is None:
            ax = _map_panel(fig, rect, inputs, name, view, "Realistic tier: one use per hectare (the allocation)")
            parts = _in_municipality(inputs, inputs.allocation, name)
            for t in techs:
                mine = parts[parts["use"] == t.name] if parts is not None and len(parts) else None
                if t.unit_points and mine is not None and len(mine):  # a few hectares of footprints: marked
                    pts = mine.geometry.representative_point()
                    ax.scatter(pts.x, pts.y, s=13, facecolors="white", edgecolors=t.color, linewidths=1.3,
                               zorder=12)
                _draw_polygons(ax, _shapes(mine, view), facecolor=t.color, edgecolor=t.color, linewidth=0.2,
                               alpha=0.85, zorder=3)
            _border(ax, inputs, name)
            continue
        ha = elig_ha.get(tech.name, 0.0)
        ax = _map_panel(fig, rect, inputs, name, view,
                        f"{tech.title}: eligible area {_num(ha)} ha ({_pct(ha / land) if land else '–'})")
        elig = _in_municipality(inputs, inputs.results.get(f"{tech.name}_eligible"), name)
        _draw_polygons(ax, _shapes(elig, view), facecolor=tech.color, edgecolor=tech.color, linewidth=0.2,
                       alpha=0.6, zorder=3)
        handles.append(Patch(facecolor=tech.color, edgecolor=tech.color, alpha=0.6,
                             label=f"{tech.title}: eligible area (technical tier)"))
        for layer in tech.layers:
            gdf = _in_municipality(inputs, inputs.results.get(f"{tech.name}_{layer.key}"), name)
            n = 0 if gdf is None else len(gdf)
            label = layer.title.split(" (")[0]
            if layer.geometry == "point":
                pts = [g for g in (gdf.geometry if gdf is not None else []) if g is not None and not g.is_empty
                       and view.box.contains(g)]
                if pts:
                    ax.scatter([g.x for g in pts], [g.y for g in pts], s=13, facecolors="white",
                               edgecolors=layer.color, linewidths=1.3, zorder=12)
                handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                                      markeredgecolor=layer.color, markeredgewidth=1.3, markersize=4.5,
                                      label=f"{label}: {n}"))
                continue
            shapes = _shapes(gdf, view)
            ha_layer = float(gdf["eligible_ha"].sum()) if gdf is not None and "eligible_ha" in gdf else 0.0
            if layer.style == "outline":  # areas that overlap others: hatched, so the fill below stays visible
                _draw_polygons(ax, shapes, facecolor="none", edgecolor=layer.color, linewidth=0.0, hatch="//////",
                               alpha=0.7, zorder=10)
                handles.append(Patch(facecolor="none", edgecolor=layer.color, linewidth=0.0, hatch="//////",
                                     label=f"{label}: {_num(ha_layer)} ha (hatched)"))
            else:
                _draw_polygons(ax, shapes, facecolor=layer.color, edgecolor=layer.color, linewidth=0.6, zorder=11)
                handles.append(Patch(facecolor=layer.color, edgecolor=layer.color,
                                     label=f"{label}: {_num(ha_layer)} ha"))
        _border(ax, inputs, name)
        _site_labels(ax, [s for s in sites if s.tech is tech], view)
    handles += [Patch(facecolor="#888888", alpha=0.85, label="Realistic tier: the use of each part in its "
                      "technology's colour (turbine sites as rings)"),
                Line2D([], [], color=BORDER, linewidth=1.2, label=f"Municipal border of {name}"),
                Line2D([], [], color="#9a9a9a", linewidth=0.5, label="Neighbouring municipalities"),
                Line2D([], [], marker="s", linestyle="none", markerfacecolor="white", markeredgecolor=BORDER,
                       markersize=6, label="W1, P1, A1 …: top sites (table on page 3)")]
    leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.055, bottom - 0.012), ncol=2,
                     fontsize=7, frameon=False, handlelength=1.8, columnspacing=1.5, labelspacing=0.5)
    leg.set_in_layout(False)
    _hang(fig, 0.06, 0.095, textwrap.fill(
        f"Municipal area {_num(land)} ha. Eligible areas are what each technology's hard exclusions leave (the "
        "technical tier); they overlap, as several technologies may use the same field. The realistic tier puts "
        "one use on each hectare (page 2).", 140), fontsize=7)
    _hang(fig, 0.06, 0.06, textwrap.fill(
        "Data: " + "; ".join(inputs.attribution or ["© OpenStreetMap contributors"])
        + ". Map: ETRS89 / UTM zone 33N (EPSG:25833), north up (grid north).", 150), fontsize=6.5, color=GREY)


def _eligible_ha(inputs: SheetInputs, name: str) -> dict[str, float]:
    """Eligible ha per technology: the suitability summary's, else the parcels' sum."""
    table = inputs.suitability
    if table is not None and name in table.index:
        return {t.name: float(table.loc[name, f"{t.name}_eligible_ha"]) for t in inputs.techs
                if f"{t.name}_eligible_ha" in table.columns}
    parcels = inputs.results["parcels"]
    mine = parcels[parcels["municipality"] == name]
    return {t.name: float(mine[f"{t.name}_eligible_ha"].sum()) for t in inputs.techs
            if f"{t.name}_eligible_ha" in mine}


def _site_labels(ax: Axes, sites: list[Site], view: MapView) -> None:
    """Top-site labels beside their sites, moved around the site until they do not overlap an
    earlier label (a thin leader line joins a moved label to its site)."""
    fig = ax.figure
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_position()
    per_inch = (x1 - x0) / (bbox.width * fig.get_figwidth())  # metres per inch of page
    box_w, box_h = 0.24 * per_inch, 0.13 * per_inch  # a label's box ("W1" at 6.5 pt with padding)
    # boxes (x0, y0, x1, y1) labels must not cover: the scale bar and the north arrow
    taken = [view.scale_box(), (x1 - (x1 - x0) * 0.12, y1 - (y1 - y0) * 0.17, x1, y1)]
    # and the sites' own markers: a label never hides another site
    dot = box_h * 0.15
    taken += [(s.point.x - dot, s.point.y - dot, s.point.x + dot, s.point.y + dot)
              for s in sites if s.point is not None]
    offsets = [(0.0, 0.0)] + [(r * np.cos(a), r * np.sin(a)) for r in (1.3, 2.4, 3.5)
                              for a in np.deg2rad([90, 30, 150, -30, 210, -90, 0, 180])]
    for site in sites:
        if site.point is None:
            continue
        px, py = site.point.x, site.point.y
        for dx, dy in offsets:
            x, y = px + dx * box_w, py + box_h * 0.8 + dy * box_h * 1.6
            inside = x0 + box_w / 2 < x < x1 - box_w / 2 and y0 + box_h < y < y1 - box_h
            mine = (x - box_w * 0.55, y - box_h * 0.6, x + box_w * 0.55, y + box_h * 0.6)
            if inside and not any(mine[0] < t[2] and t[0] < mine[2] and mine[1] < t[3] and t[1] < mine[3]
                                  for t in taken):
                break
        taken.append((x - box_w * 0.55, y - box_h * 0.6, x + box_w * 0.55, y + box_h * 0.6))
        ax.plot([px], [py], marker="o", color=BORDER, markersize=1.8, zorder=15)
        if (dx, dy) != (0.0, 0.0):
            ax.plot([px, x], [py, y], color=BORDER, linewidth=0.4, zorder=15)
        ax.text(x, y, site.label, fontsize=6.5, fontweight="bold", color=site.tech.color, ha="center",
                va="center", zorder=16, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                              "edgecolor": site.tech.color, "linewidth": 0.6, "alpha": 0.92})


# --- page 2: the balance ---------------------------------------------------------------------------

def _bar_chart(ax: Axes, bars: list[Bar], *, unit: str, hatch: str | None = None) -> None:
    """Horizontal bars with low–high whiskers, each labelled with its value (and share)."""
    from matplotlib.ticker import MaxNLocator

    if not bars:
        ax.set_axis_off()
        ax.text(0.0, 0.5, "No technology contributes to this figure.", ha="left", va="center",
                transform=ax.transAxes, fontsize=7.5, color=GREY)
        return
    ys = np.arange(len(bars))[::-1].astype(float)
    vals = np.array([b.value for b in bars])
    lows = np.array([min(b.low, b.value) for b in bars])
    highs = np.array([max(b.high, b.value) for b in bars])
    colors = [b.color for b in bars]
    ax.barh(ys, vals, color=colors, alpha=0.85 if hatch is None else 0.4, height=0.6, edgecolor=colors,
            linewidth=0.6, hatch=hatch)
    ax.errorbar(vals, ys, xerr=[vals - lows, highs - vals], fmt="none", ecolor="#222222", elinewidth=0.7,
                capsize=2)
    top = float(highs.max()) if float(highs.max()) > 0 else 1.0
    ax.set_xlim(0, top * 1.04)
    ax.set_ylim(-0.6, len(bars) - 0.4)
    for y, b in zip(ys, bars, strict=True):  # the values in a column right of the chart
        text = _num(b.value) + (f" · {b.note}" if b.note and b.value else "")
        if b.high > b.low:
            text += f"\nrange {_num(b.low)}–{_num(b.high)}"
        ax.text(1.02, y, text, va="center", fontsize=6.5, linespacing=1.15, transform=ax.get_yaxis_transform(),
                fontweight="bold" if b.total else REGULAR)
    ax.set_yticks(ys, [b.label for b in bars])
    for lbl, b in zip(ax.get_yticklabels(), bars, strict=True):
        if b.total:
            lbl.set_fontweight("bold")
    ax.set_xlabel(unit, labelpad=1.5)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(_thousands())
    ax.tick_params(axis="x", labelsize=6.5, pad=1.5)
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", linewidth=0.3, color="#cccccc")
    ax.set_axisbelow(True)


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:g}")


#: The balance charts: measure, unit (x axis), frame and what is shown.
CHARTS = (
    ("avoided_frame", "t CO2e/a (avoided emissions and sinks)", "avoided", "avoided emissions and sinks"),
    ("heat", "t CO2e/a (fossil heat replaced)", "territorial", "fossil heat replaced (lowers the territorial load)"),
    ("electricity", "MWh/a (local renewable electricity)", "territorial", "local renewable electricity"),
)
TIER_TITLES = {"realistic": "Realistic tier: the allocation, one use per hectare (adds up to the total)",
               "technical": "Technical tier: each technology alone on all its eligible land (upper bounds, "
                            "not added up)"}


def _page_balance(fig: Figure, inputs: SheetInputs, name: str) -> None:
    """Page 2: per frame a chart of each tier, the unit and the tier and frame named on each."""
    _header(fig, name, inputs, "Balance: what the potential could do each year")
    summary = inputs.summary
    share = float(summary["share_realised"].max())
    real = _row(summary, name, "realistic", share)
    load = float(real["emission_load_t_co2e_a"]) if real is not None else np.nan
    energy = float(real["energy_use_mwh_a"]) if real is not None else np.nan
    year = str(real.get("emission_load_year", "") or "") if real is not None else ""
    base_year = inputs.baseline.get("year")
    load_text = (f"Emission load {_num(load)} t CO2e/a (territorial, {year or base_year}"
                 + (", the group's figure split by inhabitants" if _split(inputs, name) else "") + ")"
                 if np.isfinite(load) else "No emission load for this municipality: shares of the load are not given")
    energy_text = f"energy use {_num(energy)} MWh/a" if np.isfinite(energy) else "no energy-use figure"
    _hang(fig, 0.06, 0.905, textwrap.fill(
        f"{load_text}; {energy_text}. Figures at {share:.0%} of the potential realised (summary.csv and "
        "landuse.xlsx give the other shares). Bars: central estimate; whiskers and brackets: low–high range.", 135),
        fontsize=7.5)
    techs = inputs.techs
    blocks = []
    for measure, unit, frame, what in CHARTS:
        tiers = [(tier, balance_bars(summary, name, techs, tier=tier, measure=measure, share=share))
                 for tier in ("realistic", "technical")]
        blocks.append((measure, unit, frame, what, tiers))
    # heights: per bar, plus a fixed part for the tier line and the x axis
    per_bar, fixed, frame_head = 0.02, 0.052, 0.03
    total = sum(frame_head + sum(fixed + per_bar * max(len(b), 1) for _, b in tiers)
                for *_, tiers in blocks)
    scale = min(1.35, 0.74 / total)
    y = 0.865
    for _measure, unit, frame, what, tiers in blocks:
        _hang(fig, 0.06, y, f"{FRAME_WORDS[frame]}: {what}", fontsize=9, fontweight="bold")
        y -= frame_head * scale
        for tier, bars in tiers:
            height = per_bar * max(len(bars), 1) * scale
            _hang(fig, 0.06, y, f"{TIER_TITLES[tier]} · {FRAME_WORDS[frame].split(' (')[0]}", fontsize=7,
                  color="#333333", style="italic")
            y -= 0.017 * scale
            ax = fig.add_axes((0.26, y - height, 0.44, height))
            _bar_chart(ax, bars, unit=unit, hatch=None if tier == "realistic" else "////")
            y -= height + (fixed - 0.017) * scale
    # what is reported apart
    tech_row = _row(summary, name, "technical", share)
    sinks = _sum(real, ["sinks_t_co2e_a"])[0]
    notes = [f"Sinks (soil carbon) count in the avoided-emissions frame; the territorial balance reports them beside "
             f"itself: {_num(sinks)} t CO2e/a in the realistic tier. Electricity lowers the territorial load only "
             "through the grid mix, so it is given as generation and as a share of the energy use."]
    for o in [o for t in techs for o in t.outputs if not o.in_total and o.kind == "avoided"]:
        notes.append(f"{o.label}: {_num(_sum(tech_row, [o.column])[0])} {o.unit} in the technical tier, outside "
                     "both tiers' totals.")
    for o in [o for t in techs for o in t.outputs if o.kind == "stock" and o.in_total]:
        notes.append(f"{o.label}: {_num(_sum(real, [o.column])[0])} {o.unit} once in the realistic tier (a stock, "
                     "not a yearly flow).")
    y = 0.1
    for note in notes:
        for ln in _wrap(note, 150):
            _hang(fig, 0.06, y, ln, fontsize=6.8, color=GREY)
            y -= 0.0115


def _split(inputs: SheetInputs, name: str) -> bool:
    """True when the municipality's load is its group's split by inhabitants (several members)."""
    b = inputs.boundaries
    group = b.loc[b["name"] == name, "group"] if "group" in b else pd.Series(dtype=str)
    return bool(len(group)) and int((b["group"] == group.iloc[0]).sum()) > 1


# --- page 3: sites ---------------------------------------------------------------------------------

def _page_sites(fig: Figure, inputs: SheetInputs, name: str, sites: list[Site]) -> None:
    _header(fig, name, inputs, "Sites: eligible land and the best-scored parcels")
    # eligible land by technology
    y = 0.9
    _hang(fig, 0.06, y, "Eligible land by technology (technical tier: each technology alone; areas overlap)",
          fontsize=10, fontweight="bold")
    y -= 0.03
    own = inputs.boundaries[inputs.boundaries["name"] == name]
    land = float(own.geometry.area.sum() / 1e4)
    parts = inputs.allocation
    real = parts[parts["municipality"] == name] if parts is not None and len(parts) else None
    cols = [(0.06, "Technology"), (0.27, "Eligible (ha)"), (0.375, "Share of the area"),
            (0.51, "Realistic tier (ha)"), (0.68, "Own layers")]
    for x, head in cols:
        _hang(fig, x, y, head, fontsize=7.5, fontweight="bold")
    y -= 0.006
    fig.add_artist(_hline(y))
    y -= 0.006
    eligible = _eligible_ha(inputs, name)
    for tech in inputs.techs:
        ha = eligible.get(tech.name, 0.0)
        block = real[real["use"] == tech.name] if real is not None else None
        used = _num(float(block["ha"].sum())) if block is not None else "0"
        if tech.unit_points and block is not None:
            used += f" ({block['units'].sum():.0f} {tech.unit_points})"
        extra = []
        for layer in tech.layers:
            gdf = _in_municipality(inputs, inputs.results.get(f"{tech.name}_{layer.key}"), name)
            if gdf is None:
                continue
            label = layer.title.split(": ", 1)[-1].split(" (")[0]
            extra.append(f"{label} {len(gdf)}" if layer.geometry == "point" else
                         f"{label} {_num(float(gdf['eligible_ha'].sum()) if 'eligible_ha' in gdf else 0.0)} ha")
        row = [tech.title, _num(ha), _pct(ha / land) if land else "–", used, "; ".join(extra) or "–"]
        for (x, _), text in zip(cols, row, strict=True):
            _hang(fig, x, y, text, fontsize=7.5, color=tech.color if x == cols[0][0] else "black")
        y -= 0.017
    _hang(fig, 0.06, y, f"Municipal area {_num(land)} ha.", fontsize=7, color=GREY)
    y -= 0.04
    _hang(fig, 0.06, y, f"Top sites: the {TOP_SITES} best-scored eligible parcels of each technology",
          fontsize=10, fontweight="bold")
    y -= 0.018
    _hang(fig, 0.06, y, textwrap.fill(
        "Score 0–100 from the technology's soft criteria (each sub-score 0–100 named below); 'part excluded' names "
        "the hard rules that cut the parcel, with their legal or technical source. Labels as on the map (page 1).",
        150), fontsize=7, color=GREY)
    y -= 0.032
    table = [(0.06, "#", 4), (0.083, "Parcel", 22), (0.224, "Land cover", 12), (0.299, "Eligible", 10),
             (0.355, "Score", 6), (0.395, "Realistic tier", 25), (0.565, "Why: criteria (0–100) and exclusions", 63)]
    for x, head, _ in table:
        _hang(fig, x, y, head, fontsize=6.6, fontweight="bold")
    y -= 0.006
    fig.add_artist(_hline(y))
    y -= 0.005
    line, max_lines, floor = 0.0102, 3, 0.045
    if not sites:
        _hang(fig, 0.06, y, "No eligible parcel for any technology in this municipality.", fontsize=7.5)
    current = None
    for k, site in enumerate(sites):
        if y - (max_lines + 1.5) * line < floor:  # never past the footer
            _hang(fig, 0.06, y, f"{len(sites) - k} more sites (labels on the map): see landuse.gpkg, layer parcels.",
                  fontsize=6.8, color=GREY)
            break
        if site.tech is not current:
            current = site.tech
            y -= 0.003
            _hang(fig, 0.06, y, site.tech.title, fontsize=7.5, fontweight="bold", color=site.tech.color)
            y -= line * 1.25
        cells = [site.label, site.parcel_id, site.land_cover, f"{_num(site.eligible_ha)} ha", f"{site.score:.0f}",
                 site.realistic, site.reasons]
        heights = 1
        for (x, _, width), text in zip(table, cells, strict=True):
            lines = _wrap(text, width)
            if len(lines) > max_lines:
                lines = [*lines[:max_lines - 1], textwrap.shorten(" ".join(lines[max_lines - 1:]), width,
                                                                    placeholder=" …")]
            heights = max(heights, len(lines))
            for k, ln in enumerate(lines):
                _hang(fig, x, y - k * line, ln, fontsize=6.6,
                      fontweight="bold" if x == table[0][0] else REGULAR,
                      color=site.tech.color if x == table[0][0] else "black")
        y -= heights * line + 0.004
        fig.add_artist(_hline(y + 0.002, color="#dddddd"))
        y -= 0.002


def _hline(y: float, color: str = "#888888"):
    from matplotlib.lines import Line2D

    return Line2D([0.06, 0.94], [y, y], linewidth=0.5, color=color)


# --- page 4: data and sources ----------------------------------------------------------------------

def missing_data(inputs: SheetInputs, name: str) -> list[str]:
    """What data was missing, in words: empty optional layers (and the rules they leave out),
    skipped or partial rasters, criteria left out of the scores, figures the balance lacks."""
    from landuse.criteria import DERIVED_LAYERS

    lines = []
    counts = {k: v.get("features", 0) for k, v in (inputs.manifest.get("layers") or {}).items()}
    for layer, n in counts.items():
        if n:
            continue
        used = [f"{registry.get(t).title}: {_words(e.name)}" for t, rs in inputs.rule_sets.items()
                for e in rs.exclusions if DERIVED_LAYERS.get(e.layer, (e.layer,))[0] == layer]
        lines.append(f"Layer {layer} is empty (no features in the sources)"
                     + (f": these rules were not applied — {', '.join(used)}." if used else "."))
    lines += [f"{note[:1].upper()}{note[1:].rstrip('.')}." for note in inputs.manifest.get("notes") or []]
    parcels = inputs.results["parcels"]
    mine = parcels[parcels["municipality"] == name]
    for tech_name, rs in inputs.rule_sets.items():
        tech = registry.get(tech_name)
        for c in rs.scores:
            col = f"{tech_name}_sub_{c.name}"
            if col not in parcels.columns:
                lines.append(f"{tech.title}: criterion '{_words(c.name)}' left out of the scores (the parcels "
                             f"have no {c.attribute}); the other criteria carry its weight.")
            elif len(mine) and f"{tech_name}_eligible_ha" in mine:
                elig = mine[mine[f"{tech_name}_eligible_ha"] > 0]
                ha = elig[f"{tech_name}_eligible_ha"]
                gap = float(ha[elig[col].isna()].sum() / ha.sum()) if len(elig) and ha.sum() > 0 else 0.0
                if gap > 0.005:
                    lines.append(f"{tech.title}: criterion '{_words(c.name)}' has no value on {_pct(gap)} of this "
                                 f"municipality's eligible area ({c.attribute} missing there); the other criteria "
                                 "carry its weight on those parcels.")
    row = _row(inputs.summary, name, "realistic", float(inputs.summary["share_realised"].max()))
    if row is not None and not np.isfinite(float(row["emission_load_t_co2e_a"])):
        lines.append("No emission load for this municipality in the region's baseline: shares of the load are "
                     "not given.")
    if row is not None and not np.isfinite(float(row["energy_use_mwh_a"])):
        lines.append("No energy-use figure in the region's baseline: the share of local electricity is not given.")
    return lines or ["Nothing: every layer has features, every raster covers the region and every criterion was "
                     "scored."]


def source_lines(inputs: SheetInputs) -> list[str]:
    """Sources and their attribution, in words (file names, no local paths)."""
    lines = []
    for s in inputs.manifest.get("sources") or []:
        what = Path(str(s["path"])).name if s.get("path") else s.get("type", "")
        bits = [b for b in (s.get("date") and f"as of {s['date']}", s.get("licence") and f"licence {s['licence']}",
                            s.get("attribution")) if b]
        lines.append(f"{s.get('source', '')}: {what}" + (f" ({', '.join(bits)})" if bits else ""))
    b = inputs.baseline
    if b:
        lines.append(f"Emission load and energy use: {b.get('source', 'the region config')}"
                     + (f", base year {b['year']}" if b.get("year") else "")
                     + (f" (status {b['status']})" if b.get("status") else "") + ".")
    files = [Path(rs.path).name if rs.path else f"{name}.yaml" for name, rs in inputs.rule_sets.items()]
    if files:
        lines.append(f"Rules: {', '.join(files)} — each rule names its legal or technical source (page 3 cites those "
                     "that cut the top sites).")
    lines.append(f"Parameters of the potential: {inputs.parameters}.")
    return lines


METHOD = [
    "Technical tier: each technology alone on all of its eligible land — an upper bound per technology. The "
    "technologies compete for the same fields, so their technical figures are never added up.",
    "Realistic tier: the allocation puts one use on each hectare (the best by the allocation's objective, within "
    "the municipality's limits); its figures add up to the totals shown.",
    "Avoided-emissions frame (UBA method): emissions avoided by local renewable energy at the grid mix, plus carbon "
    "stored in soils; it lies outside the territorial balance.",
    "Territorial frame (BISKO): only fossil heat replaced locally (wood chips) lowers the territorial load; sinks "
    "are reported beside it, and local electricity as generation and as a share of the energy use.",
]


def _page_data(fig: Figure, inputs: SheetInputs, name: str) -> None:
    _header(fig, name, inputs, "Data: what was missing, sources and method")
    items = [("h", "What data was missing")] + [("b", t) for t in missing_data(inputs, name)]
    if inputs.out_of_range:
        items += [("h", "Values outside their declared range")] + [("b", t) for t in inputs.out_of_range]
    items += [("h", "Sources")] + [("b", t) for t in source_lines(inputs)]
    items += [("h", "Attribution")] + [("p", "; ".join(inputs.attribution or ["© OpenStreetMap contributors"]) + ".")]
    items += [("h", "Method in brief")] + [("b", t) for t in METHOD]
    items += [("p", f"Made with landuse {__version__}"
               + ("" if inputs.scenario in ("", "default") else f", rule variant {inputs.scenario}")
               + ". The same inputs give the same sheet.")]
    _paragraphs(fig, 0.06, 0.9, items)


# --- writing -----------------------------------------------------------------------------------------

def _creation_date() -> dt.datetime | None:
    """``$SOURCE_DATE_EPOCH`` as the PDF's creation date; else none (the same inputs, the same bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else None


def rows_by_municipality(inputs: SheetInputs) -> dict[str, dict[str, np.ndarray]]:
    """Row positions of each result layer and of the allocation per municipality (by the
    layer's ``municipality`` column, else by its parcel's), for :func:`municipality_inputs`.

    Layers with neither column are left out: they are cut by geometry where they are drawn.
    """
    parcels = inputs.results["parcels"]
    muni_of = pd.Series(parcels["municipality"].to_numpy(), index=parcels["parcel_id"].to_numpy())
    rows = {}
    for key, gdf in {**inputs.results, "allocation": inputs.allocation}.items():
        if gdf is None or not len(gdf):
            continue
        if "municipality" in gdf.columns:
            munis = gdf["municipality"].to_numpy()
        elif "parcel_id" in gdf.columns:
            munis = gdf["parcel_id"].map(muni_of).to_numpy()
        else:
            continue
        rows[key] = pd.Series(np.arange(len(gdf))).groupby(munis, sort=False).indices
    return rows


def municipality_inputs(inputs: SheetInputs, name: str,
                        rows: dict[str, dict[str, np.ndarray]] | None = None) -> SheetInputs:
    """``inputs`` with the result layers and the allocation cut to one municipality's features
    (in their order); the boundaries, balance and sources stay whole.

    A sheet then costs what its municipality holds, not what the region holds: at Saxony's
    scale every sheet would otherwise filter some 400,000 parcels several times over.

    Parameters
    ----------
    inputs : SheetInputs
    name : str
        The municipality.
    rows : dict, optional
        :func:`rows_by_municipality` of ``inputs``, when several sheets share it.
    """
    rows = rows_by_municipality(inputs) if rows is None else rows
    none = np.array([], dtype=np.intp)

    def cut(key: str, gdf):
        if gdf is None or key not in rows:
            return gdf
        at = rows[key].get(name, none)
        # the layers are in municipal order (the parcels by AGS, and what is made from them):
        # a run of rows is a slice, not a copy of every column (all of Saxony: 426 sheets cut
        # 38 s on the thread beside the maps and exports)
        if len(at) and at[-1] - at[0] + 1 == len(at):
            return gdf.iloc[at[0]:at[-1] + 1]
        return gdf.iloc[at]

    return dataclasses.replace(inputs, results={k: cut(k, g) for k, g in inputs.results.items()},
                               allocation=cut("allocation", inputs.allocation))


def write_factsheet(inputs: SheetInputs, name: str, path: str | os.PathLike, *,
                    rows: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """The fact sheet of one municipality (:data:`PAGES` pages) as a PDF at ``path``.

    ``rows``: :func:`rows_by_municipality` of ``inputs``, when several sheets share it.
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    path = Path(path)
    inputs = municipality_inputs(inputs, name, rows)
    sites = top_sites(inputs, name)
    metadata = {"Title": f"{name}: land-use potential fact sheet", "Author": "landuse",
                "Subject": f"{inputs.title}: sites, balance and data of {name}",
                "Creator": f"landuse {__version__}", "Producer": f"landuse {__version__} with matplotlib "
                                                                  f"{matplotlib.__version__}",
                "CreationDate": _creation_date()}
    with matplotlib.rc_context(FONT), PdfPages(path, metadata=metadata) as pdf:
        pages = (lambda f: _page_map(f, inputs, name, sites), lambda f: _page_balance(f, inputs, name),
                 lambda f: _page_sites(f, inputs, name, sites), lambda f: _page_data(f, inputs, name))
        for page, draw in enumerate(pages, start=1):
            fig = Figure(figsize=A4)
            draw(fig)
            _footer(fig, name, page)
            pdf.savefig(fig)
    return path


def _sheet_job(inputs: SheetInputs, rows: dict[str, dict[str, np.ndarray]], name: str, path: Path,
               payload: str) -> tuple:
    """What a sheet process gets for one sheet: the file of the shared inputs, and the
    municipality's rows of the layers cut by municipality."""
    cut = municipality_inputs(inputs, name, rows)
    return payload, {k: g for k, g in cut.results.items() if k in rows}, cut.allocation, name, path


#: The inputs every sheet of a sheet process shares, and the file they were loaded from (loaded with
#: the process's first sheet of a run: :func:`_shared_inputs`).
_SHARED: SheetInputs | None = None
_SHARED_FROM: str | None = None
#: Why a sheet process could not take its parent's inputs, raised by every sheet it is given.
_START_ERROR: BaseException | None = None


def _plugin_modules() -> list[tuple[str, str]] | None:
    """The files of the modules that define technologies registered at run time: a plugin loaded
    from a path is importable by no name in a new process. None where a technology cannot be
    loaded elsewhere (defined in the main script)."""
    modules = {}
    for tech in registry.technologies():
        name = type(tech).__module__
        if name == "landuse" or name.startswith("landuse."):
            continue
        file = getattr(sys.modules.get(name), "__file__", None)
        if name == "__main__" or file is None:
            return None
        modules[name] = file
    return list(modules.items())


def _pickled_for_processes(shared: SheetInputs, file: Path) -> bool:
    """Write the shared inputs and the registry for the sheet processes to ``file`` (not held in
    memory while the sheets are drawn); False where they cannot be pickled (a technology
    defined in a function)."""
    try:
        with open(file, "wb") as f:
            pickle.dump((shared, registry.technologies()), f, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _import_file(name: str, file: str) -> None:
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:  # a parent package that is not importable either
        spec = None
    if spec is None or spec.origin != file:
        spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def _start_sheet_process(modules: list[tuple[str, str]], level: int) -> None:
    """Process pool initializer: the modules of the run's plugins (the shared inputs come with the
    first sheet, so the processes can start before they exist). The error of a failed start is kept
    and raised by every sheet: it then reaches the run with its cause, where a failed initializer
    only breaks the pool."""
    global _START_ERROR
    logging.basicConfig(format="%(message)s")
    logging.getLogger("landuse").setLevel(level)
    try:
        for name, file in modules:
            _import_file(name, file)
    except Exception as exc:  # noqa: BLE001 - handed to the parent with the first sheet
        _START_ERROR = exc


def _shared_inputs(payload: str) -> SheetInputs:
    """The shared inputs of ``payload`` (:func:`_pickled_for_processes`), loaded once per process,
    and the parent's registry of technologies taken over."""
    global _SHARED, _SHARED_FROM, _START_ERROR
    if _START_ERROR is None and _SHARED_FROM != payload:
        try:
            with open(payload, "rb") as f:
                _SHARED, techs = pickle.load(f)
            registry.use(techs)
            _SHARED_FROM = payload
        except Exception as exc:  # noqa: BLE001 - raised below, as a failed start
            _START_ERROR = exc
    if _START_ERROR is not None:
        raise ConfigError(f"A fact sheet process could not load the technologies of the run ({_START_ERROR!r}). "
                          f"Register plugins through the {registry.ENTRY_POINT_GROUP!r} entry point, "
                          "or set LANDUSE_THREADS=1 to draw the sheets in this process.")
    return _SHARED


def _write_job(job: tuple) -> Path:
    payload, results, allocation, name, path = job
    shared = _shared_inputs(payload)
    inputs = dataclasses.replace(shared, results={**shared.results, **results}, allocation=allocation)
    return write_factsheet(inputs, name, path)


def _started() -> None:
    """A sheet process's first task when it is started ahead (:func:`start_sheet_processes`)."""


def sheet_processes(municipalities: int) -> int:
    """Processes the fact sheets of ``municipalities`` are drawn in: one per core
    (:func:`landuse.geometry.thread_count`), at most one per sheet; 1 means in this process."""
    return max(1, min(thread_count(), municipalities))


def _new_pool(processes: int, modules: list[tuple[str, str]]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_sheet_process,
                               initargs=(modules, logging.getLogger("landuse").getEffectiveLevel()))


@dataclasses.dataclass
class SheetProcesses:
    """Fact-sheet processes started ahead of their sheets (:func:`start_sheet_processes`): the pool,
    the plugin modules its processes loaded and how many there are."""

    pool: ProcessPoolExecutor
    modules: list[tuple[str, str]]
    processes: int

    def close(self) -> None:
        """End the processes (once their sheets are drawn; at once where none are)."""
        _shut_down(self.pool, wait=True, cancel_futures=True)


def start_sheet_processes(municipalities: int) -> SheetProcesses | None:
    """The sheet processes of a run, started now: each loads landuse, matplotlib and the run's
    plugins (about 2 CPU-seconds) while the run's first stages leave a core idle, instead of
    beside the maps and exports. Hand them to :func:`write_factsheets`, which ends them; ``close``
    them where no sheets are drawn.

    Returns
    -------
    SheetProcesses or None
        None where the sheets would be drawn in this process (one core or one sheet; a
        technology registered at run time that cannot be loaded in another process).
    """
    processes = sheet_processes(municipalities)
    modules = _plugin_modules()
    if processes <= 1 or modules is None:
        return None
    pool = _new_pool(processes, modules)
    with _main_script_hidden():  # each task that no started process has taken starts one
        for _ in range(processes):
            pool.submit(_started)
    return SheetProcesses(pool, modules, processes)


@contextlib.contextmanager
def _main_script_hidden():
    """A spawned process imports the parent's main script to find what it defines, and so runs
    its top level: a script that calls :func:`landuse.pipeline.run` without an
    ``if __name__ == "__main__"`` guard would run again in every sheet process. The sheet
    processes need landuse's code only."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _write_in_processes(inputs: SheetInputs, jobs: list[tuple[str, Path]],
                        meanwhile: Callable[[], Any] | None = None, started: SheetProcesses | None = None):
    """Write the sheets, yielding each path when it is done: in new processes, one per core
    (:func:`landuse.geometry.thread_count`), where there are several sheets; else one after the
    other. Matplotlib draws in one thread only, so sheets need processes.

    The processes are spawned, not forked, and get what they draw: the inputs every sheet shares
    once, then per sheet its municipality's rows (sliced here as they are due). A forked process
    shares this process's memory only until this process writes to it, and ``meanwhile`` (the
    maps and exports) writes to most of it: every page it touched was then held twice while the
    sheets were drawn (all of Saxony: 3.4 GB in the two sheet processes beside 4.2 GB here).

    ``meanwhile`` runs in this process once the sheet processes are started, else before the sheets.
    ``started`` are processes started ahead for these sheets: used where they fit (the same
    count and plugins), else ended."""
    rows = rows_by_municipality(inputs)
    processes = sheet_processes(len(jobs))
    shared = dataclasses.replace(inputs, results={k: g for k, g in inputs.results.items() if k not in rows},
                                 allocation=None if "allocation" in rows else inputs.allocation)
    modules = _plugin_modules() if processes > 1 else None
    if started is not None and (modules is None or (started.modules, started.processes) != (modules, processes)):
        started.close()
        started = None
    if modules is not None:
        fd, payload = tempfile.mkstemp(prefix="landuse-factsheets-", suffix=".pickle")
        os.close(fd)
        try:
            if _pickled_for_processes(shared, Path(payload)):
                pool = started.pool if started is not None else _new_pool(processes, modules)
                yield from _write_with_pool(inputs, rows, jobs, processes, pool, payload, meanwhile)
                return
        finally:
            if started is not None:
                started.close()
            os.unlink(payload)
    if processes > 1:
        log.info("Fact sheets drawn one after the other: a technology registered at run time "
                 "cannot be loaded in another process (defined in the main script or in a function).")
    if meanwhile is not None:
        meanwhile()
    for name, path in jobs:
        yield write_factsheet(inputs, name, path, rows=rows)


def _shut_down(pool: ProcessPoolExecutor, **options) -> None:
    """``pool.shutdown``; a pool broken by a dead process has closed the pipe that shutdown
    writes to (CPython 3.11 then raises EBADF), and its processes are ended already."""
    with contextlib.suppress(OSError):
        pool.shutdown(**options)


def _write_with_pool(inputs: SheetInputs, rows: dict, jobs: list[tuple[str, Path]], processes: int,
                     pool: ProcessPoolExecutor, payload: str, meanwhile: Callable[[], Any] | None):
    """The sheets on ``pool`` (:func:`_new_pool`, ``processes`` spawned processes), which load the
    pickled ``payload`` with their first sheet; ended when the sheets are drawn. A process pool of
    :mod:`concurrent.futures`: where a process dies (killed for lack of memory), the sheets fail at
    once; :mod:`multiprocessing`'s pool waits for ever."""
    # slices are made as the processes take them, at most two per process ahead: a feeder thread
    # makes them while ``meanwhile`` runs here
    ahead = threading.Semaphore(2 * processes)
    stop = threading.Event()
    futures: queue.Queue = queue.Queue()

    def submit(name: str, path: Path) -> bool:
        ahead.acquire()
        if stop.is_set():
            return False
        future = pool.submit(_write_job, _sheet_job(inputs, rows, name, path, payload))
        future.add_done_callback(lambda _: ahead.release())
        futures.put(future)
        return True

    def feed() -> None:
        try:
            for name, path in jobs[processes:]:
                if not submit(name, path):
                    break
        except BaseException as exc:  # noqa: BLE001 - raised where the sheets are collected
            futures.put(exc)
        finally:
            futures.put(None)
            # no more sheets: the processes end, and give back their memory, when theirs are
            # drawn, not when ``meanwhile`` ends
            _shut_down(pool, wait=True)

    feeder, complete = None, False
    try:
        with _main_script_hidden():  # the processes start with their first sheet, here
            for name, path in jobs[:processes]:
                submit(name, path)
        feeder = threading.Thread(target=feed, name="fact-sheet-feeder", daemon=True)
        feeder.start()
        if meanwhile is not None:
            meanwhile()
        while (future := futures.get()) is not None:
            try:
                if isinstance(future, BaseException):  # the feeder's
                    raise future
                yield future.result()
            except BrokenProcessPool as exc:
                raise LanduseError(
                    "A fact sheet process ended before its sheet was drawn (killed, perhaps for lack of "
                    "memory). Set LANDUSE_THREADS=1 to draw the sheets in this process.") from exc
        complete = True
    finally:
        if not complete:  # an error: no more sheets
            stop.set()
            ahead.release()  # a feeder waiting for a slot sees the stop
            # the sheets being drawn end before the caller removes their folder
            _shut_down(pool, wait=True, cancel_futures=True)
        if feeder is not None:
            feeder.join()  # its shutdown waits for the processes


def _quiet() -> bool:
    return not logging.getLogger("landuse").isEnabledFor(logging.WARNING)


def write_factsheets(inputs: SheetInputs, folder: str | os.PathLike, *,
                     meanwhile: Callable[[], Any] | None = None, processes: SheetProcesses | None = None) -> Path:
    """``<folder>/<municipality>.pdf`` for every municipality of the region; the folder is
    replaced as a whole (an interrupted write leaves the previous one, see
    :func:`landuse.io.clean_temporary`). A progress bar counts the sheets (quiet under -q).

    Parameters
    ----------
    inputs : SheetInputs
    folder : path-like
    meanwhile : callable, optional
        Other work for this process while the sheet processes draw (the run's maps and
        exports); an error in it stops the sheets and leaves the previous folder.
    processes : SheetProcesses, optional
        Sheet processes started ahead (:func:`start_sheet_processes`); ended here in any case.

    Returns
    -------
    Path
        ``folder``.
    """
    from tqdm import tqdm

    folder = Path(folder)
    make_dir(folder.parent)
    munis = municipalities(inputs)
    files = factsheet_files([n for n, _ in munis], [a for _, a in munis])
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}{TEMP_MARK}", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the sheets are for everyone who may read the folder
    try:
        jobs = [(name, tmp / files[name]) for name, _ in munis]
        bar = tqdm(total=len(jobs), desc="fact sheets", unit="sheet", leave=False, disable=True if _quiet() else None)
        for _ in _write_in_processes(inputs, jobs, meanwhile, processes):
            bar.update()
        bar.close()
        swap_folder(tmp, folder)
    finally:
        if processes is not None:  # ended here whichever way the sheets went
            processes.close()
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("Wrote %d fact sheets to %s", len(munis), folder)
    return folder


__all__ = ["write_factsheets", "write_factsheet", "start_sheet_processes", "SheetProcesses", "sheet_processes",
           "SheetInputs", "municipality_inputs", "rows_by_municipality",
           "slug", "factsheet_files", "top_sites",
           "balance_bars", "missing_data", "source_lines", "reason_words", "FOLDER", "PAGES"]
