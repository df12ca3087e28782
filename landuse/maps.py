"""Interactive Folium maps for planners: scores, eligible areas, turbines, tree strips,
municipal borders, excluded parcels, a legend per layer, and a panel with the balance.

Geometries are simplified for display only (the analysis keeps full precision) and the
Leaflet assets are embedded by default, so a map opens offline (tiles aside).
"""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
import os
import re
from pathlib import Path

import branca.colormap as cm
import folium
import folium.plugins
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from landuse.config import WEB_CRS
from landuse.io import atomic_path

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
TECHNOLOGIES = ("wind", "pv", "agroforestry")
TECH_TITLE = {"wind": "Wind", "pv": "Open-space PV", "agroforestry": "Agroforestry / coppice"}
TECH_COLOR = {"wind": "#2166ac", "pv": "#e08214", "agroforestry": "#1b7837"}
SCORE_COLORS = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]
#: Local copies of the CDN assets folium references (file name → local file); others are dropped
#: when embedding (jQuery, Bootstrap, Font Awesome: not used by these maps).
ASSETS = {
    "leaflet.js": "leaflet.js", "leaflet.css": "leaflet.css",
    "Control.FullScreen.min.js": "Control.FullScreen.js", "Control.FullScreen.css": "Control.FullScreen.css",
    "leaflet-measure.min.js": "leaflet-measure.js", "leaflet-measure.min.css": "leaflet-measure.css",
}
#: Estimates shown in popups: column → (label with unit, decimals).
ESTIMATES = {
    "pv": {"pv_mwp": ("PV capacity (MWp)", 2), "pv_mwh_a": ("PV energy (MWh/a)", 0),
           "pv_avoided_t_co2e_a": ("PV avoided (t CO2e/a)", 0)},
    "wind": {"wind_turbines": ("Turbines", 0), "wind_mw": ("Wind capacity (MW)", 2),
             "wind_mwh_a": ("Wind energy (MWh/a)", 0), "wind_avoided_t_co2e_a": ("Wind avoided (t CO2e/a)", 0)},
    "agroforestry": {"src_planted_ha": ("Trees planted (ha)", 2), "src_t_dm_a": ("Wood (t DM/a)", 1),
                     "heat_mwh_a": ("Heat (MWh/a)", 0), "src_avoided_t_co2e_a": ("Heat substitution (t CO2e/a)", 0),
                     "soil_sequestered_t_co2e_a": ("Soil carbon (t CO2e/a)", 1)},
}


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


def _web(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """Simplify in metres, reproject to EPSG:4326 and round to ~0.1 m (display only)."""
    out = gdf.copy()
    if tolerance_m > 0:
        out.geometry = out.geometry.simplify(tolerance_m, preserve_topology=True)
    out = out[~out.geometry.is_empty].to_crs(WEB_CRS)
    # pointwise: only round coordinates (display); a topology-preserving snap can fail on thin strips
    out.geometry = shapely.set_precision(out.geometry.values, 1e-6, mode="pointwise")
    return out[~out.geometry.is_empty]


def _round(df: pd.DataFrame, columns: dict[str, int]) -> pd.DataFrame:
    for col, nd in columns.items():
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").round(nd)
    return df


def _score_layer(parcels: gpd.GeoDataFrame, tech: str, score_cmap: cm.LinearColormap, show: bool,
                 technologies: tuple[str, ...]) -> folium.GeoJson:
    score_col = f"{tech}_score"
    sub_cols = [c for c in parcels.columns if c.startswith(f"{tech}_sub_")]
    est = {c: v for c, v in ESTIMATES[tech].items() if c in parcels.columns}
    others = [t for t in technologies if t != tech and f"{t}_score" in parcels.columns]
    fields = ["parcel_id", "municipality", "class", "area_ha", f"{tech}_eligible_ha", score_col, *sub_cols,
              f"{tech}_reason", *est, *[f"{t}_score" for t in others], *[f"{t}_reason" for t in others]]
    aliases = ["Parcel", "Municipality", "Land cover", "Area (ha)", "Eligible (ha)", "Score (0-100)",
               *[f"· {c.removeprefix(f'{tech}_sub_').replace('_', ' ')} (0-100)" for c in sub_cols],
               "Excluded (in part) by", *[v[0] for v in est.values()],
               *[f"{TECH_TITLE[t]} score (0-100)" for t in others],
               *[f"{TECH_TITLE[t]} excluded by" for t in others]]
    data = parcels[fields + ["geometry"]]
    return folium.GeoJson(
        data.to_json(na="null", drop_id=True),
        name=f"{TECH_TITLE[tech]}: score",
        style_function=lambda f, c=score_col: {
            "fillColor": score_cmap(f["properties"][c]) if f["properties"][c] is not None else "#999999",
            "color": "#444444", "weight": 0.5, "fillOpacity": 0.7},
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(["municipality", score_col], ["Municipality", "Score"]),
        popup=folium.GeoJsonPopup(fields, aliases, localize=True, max_width=420),
        show=show,
    )


def _panel(summary: pd.DataFrame | None, technologies: tuple[str, ...], attribution: list[str]) -> str:
    """HTML of the balance panel (region and groups at the largest realised share)."""
    rows = []
    if summary is not None and len(summary):
        full = summary[summary["share_realised"] == summary["share_realised"].max()]
        share = full["share_realised"].iloc[0]
        measures = []
        if "pv" in technologies:
            measures.append(("PV", "pv_avoided_t_co2e_a"))
        if "wind" in technologies:
            measures.append(("Wind", "wind_avoided_t_co2e_a"))
        if "agroforestry" in technologies:
            measures += [("Wood-chip heat", "src_avoided_t_co2e_a"), ("Soil carbon", "soil_sequestered_t_co2e_a")]
        for name, row in full[full["level"] != "municipality"].iterrows():
            load = row["emission_load_t_co2e_a"]
            cells = "".join(
                f"<tr><td>{label}</td><td style='text-align:right'>{row[col]:,.0f}</td>"
                f"<td style='text-align:right'>{row[col] / load:.1%}</td></tr>" for label, col in measures)
            total = sum(row[col] for _, col in measures)
            low = sum(row[f"{col}_low"] for _, col in measures)
            high = sum(row[f"{col}_high"] for _, col in measures)
            rows.append(
                f"<b>{html.escape(str(name))}</b> · load {load:,.0f} t CO2e/a"
                f"<table style='width:100%;font-size:11px'><tr><th></th><th>t CO2e/a</th><th>of load</th></tr>"
                f"{cells}<tr><td><b>Total</b></td><td style='text-align:right'><b>{total:,.0f}</b></td>"
                f"<td style='text-align:right'><b>{total / load:.0%}</b></td></tr></table>"
                f"<div style='font-size:10px;color:#555'>range {low / load:.0%}–{high / load:.0%}</div>")
        head = f"Balance: {share:.0%} of the potential realised"
    else:
        head = "Balance: not computed"
    sources = " · ".join(html.escape(a) for a in attribution)
    return (
        "<div id='landuse-panel' style='position:fixed;bottom:24px;left:10px;z-index:9999;background:white;"
        "padding:8px 10px;border:1px solid #888;border-radius:4px;max-width:300px;max-height:60%;overflow:auto;"
        f"font:12px sans-serif'><div style='font-weight:bold;margin-bottom:4px'>{head}</div>{''.join(rows)}"
        f"<div style='font-size:10px;color:#555;margin-top:4px'>Data: {sources}</div></div>")


def _legend(technologies: tuple[str, ...]) -> str:
    """HTML of the legend: score colours and one symbol per layer, with units."""
    grad = ", ".join(SCORE_COLORS)
    items = [f"<div><span style='display:inline-block;width:120px;height:10px;background:linear-gradient(to right,"
             f"{grad})'></span><br><span style='font-size:10px'>0 (poor) … 100 (good): score of a parcel</span></div>"]
    for tech in technologies:
        items.append(f"<div><span style='display:inline-block;width:12px;height:12px;background:{TECH_COLOR[tech]};"
                     f"opacity:.6'></span> {TECH_TITLE[tech]}: eligible area (ha)</div>")
    if "wind" in technologies:
        items.append("<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
                     "background:#2166ac;border:1px solid white'></span> Wind turbine (MW, placed)</div>")
    if "agroforestry" in technologies:
        items.append("<div><span style='display:inline-block;width:12px;height:4px;background:#00441b'></span> "
                     "Riparian tree strip, 10 m (ha)</div>")
    if "pv" in technologies:
        items.append("<div><span style='display:inline-block;width:12px;height:12px;border:2px dashed #e08214'>"
                     "</span> Agri-PV only (good farmland, ha)</div>")
    items.append("<div><span style='display:inline-block;width:12px;height:12px;background:#bbbbbb'></span> "
                 "Excluded parcel (reason in popup)</div>")
    items.append("<div><span style='display:inline-block;width:12px;height:2px;background:#333'></span> "
                 "Municipal border</div>")
    return ("<div id='landuse-legend' style='position:fixed;bottom:24px;right:10px;z-index:9999;background:white;"
            "padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif'>"
            f"<div style='font-weight:bold'>Legend</div>{''.join(items)}</div>")


def build_map(
    results: dict[str, gpd.GeoDataFrame],
    boundaries: gpd.GeoDataFrame,
    potential: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    attribution: list[str] | None = None,
    technologies: tuple[str, ...] = TECHNOLOGIES,
    simplify_m: float = 5.0,
    title: str = "landuse",
) -> folium.Map:
    """An interactive map of the scoring results.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (:func:`landuse.suitability.result_layers`): ``parcels`` with
        ``<tech>_score`` etc., ``<tech>_eligible``, ``wind_turbines``, ``pv_agri_pv``,
        ``agroforestry_riparian`` (EPSG:25833).
    boundaries : GeoDataFrame
        Municipal borders.
    potential : DataFrame, optional
        Potential per parcel (index parcel id) for the popups' estimates.
    summary : DataFrame, optional
        The balance (:func:`landuse.carbon.balance` blocks) for the panel.
    attribution : list of str
        Data sources, shown in the panel and the map's attribution.
    technologies : tuple
        Technologies to show (one map per technology for handing out).
    simplify_m : float
        Display simplification tolerance (m); the analysis data keep full precision.
    """
    attribution = attribution or ["© OpenStreetMap contributors"]
    b4326 = boundaries.to_crs(WEB_CRS)
    minx, miny, maxx, maxy = b4326.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=11, tiles=None, prefer_canvas=True)
    MetricScale().add_to(m)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap (base map, online)",
                     attr="Map tiles © OpenStreetMap contributors | Data: " + "; ".join(attribution)).add_to(m)
    m.get_root().html.add_child(folium.Element(f"<title>{html.escape(title)}</title>"))
    score_cmap = cm.LinearColormap(SCORE_COLORS, vmin=0, vmax=100)

    parcels = results["parcels"]
    if potential is not None:
        est_cols = [c for t in technologies for c in ESTIMATES[t] if c in potential.columns and c not in parcels]
        parcels = parcels.join(potential[est_cols], on="parcel_id")
    parcels = parcels[parcels["candidate"].astype(bool)]
    web = _web(parcels, simplify_m)
    round_cols = {"area_ha": 2, **{c: 1 for c in web.columns if "_score" in c or "_sub_" in c},
                  **{f"{t}_eligible_ha": 2 for t in technologies},
                  **{c: v[1] for t in technologies for c, v in ESTIMATES[t].items()}}
    web = _round(web, round_cols)

    for tech in technologies:
        eligible_parcels = web[web[f"{tech}_eligible_ha"] > 0]
        # one score layer visible at a time: they cover the same parcels
        show_score = len(technologies) == 1 or tech == "agroforestry"
        _score_layer(eligible_parcels, tech, score_cmap, show_score, technologies).add_to(m)
        elig = results.get(f"{tech}_eligible")
        if elig is not None and len(elig):
            e = _round(_web(elig, simplify_m), {"eligible_ha": 2, "score": 1})
            folium.GeoJson(
                e[["parcel_id", "municipality", "eligible_ha", "score", "geometry"]].to_json(na="null", drop_id=True),
                name=f"{TECH_TITLE[tech]}: eligible area",
                style_function=lambda f, c=TECH_COLOR[tech]: {"fillColor": c, "color": c, "weight": 1,
                                                              "fillOpacity": 0.45},
                tooltip=folium.GeoJsonTooltip(["parcel_id", "eligible_ha"], ["Parcel", "Eligible (ha)"]),
                show=tech == "pv" and len(technologies) > 1,
            ).add_to(m)
        excluded = web[(web[f"{tech}_eligible_ha"] <= 0)]
        if len(excluded):
            folium.GeoJson(
                excluded[["parcel_id", "municipality", "class", "area_ha", f"{tech}_reason", "geometry"]].to_json(
                    na="null", drop_id=True),
                name=f"{TECH_TITLE[tech]}: excluded parcels",
                style_function=lambda f: {"fillColor": "#bbbbbb", "color": "#888888", "weight": 0.5,
                                          "fillOpacity": 0.5},
                tooltip=folium.GeoJsonTooltip([f"{tech}_reason"], ["Excluded by"]),
                popup=folium.GeoJsonPopup(["parcel_id", "municipality", "class", "area_ha", f"{tech}_reason"],
                                          ["Parcel", "Municipality", "Land cover", "Area (ha)", "Excluded by"]),
                show=False,
            ).add_to(m)
    if "wind" in technologies and len(results.get("wind_turbines", [])):
        t = results["wind_turbines"].to_crs(WEB_CRS)
        folium.GeoJson(
            _round(t[["turbine_id", "parcel_id", "rated_power_mw", "geometry"]], {"rated_power_mw": 2}).to_json(
                drop_id=True),
            name="Wind: turbines",
            marker=folium.CircleMarker(radius=5, fill=True, fill_opacity=1, color="white", weight=1,
                                       fill_color=TECH_COLOR["wind"]),
            tooltip=folium.GeoJsonTooltip(["turbine_id", "rated_power_mw"], ["Turbine", "Rated power (MW)"]),
            popup=folium.GeoJsonPopup(["turbine_id", "parcel_id", "rated_power_mw"],
                                      ["Turbine", "Parcel", "Rated power (MW)"]),
        ).add_to(m)
    if "agroforestry" in technologies and len(results.get("agroforestry_riparian", [])):
        r = _round(_web(results["agroforestry_riparian"], 1.0), {"eligible_ha": 3})
        folium.GeoJson(r[["parcel_id", "eligible_ha", "geometry"]].to_json(drop_id=True),
                       name="Agroforestry: riparian tree strips (10 m)",
                       style_function=lambda f: {"fillColor": "#00441b", "color": "#00441b", "weight": 1,
                                                 "fillOpacity": 0.8},
                       tooltip=folium.GeoJsonTooltip(["eligible_ha"], ["Strip (ha)"])).add_to(m)
    if "pv" in technologies and len(results.get("pv_agri_pv", [])):
        a = _round(_web(results["pv_agri_pv"], simplify_m), {"eligible_ha": 2})
        folium.GeoJson(a[["parcel_id", "eligible_ha", "geometry"]].to_json(drop_id=True),
                       name="PV: Agri-PV only (good farmland)",
                       style_function=lambda f: {"fillOpacity": 0, "color": TECH_COLOR["pv"], "weight": 1.5,
                                                 "dashArray": "4 4"},
                       tooltip=folium.GeoJsonTooltip(["eligible_ha"], ["Agri-PV (ha)"]), show=False).add_to(m)
    folium.GeoJson(b4326[["name", "ags", "geometry"]].to_json(drop_id=True), name="Municipal borders",
                   style_function=lambda f: {"fillOpacity": 0, "color": "#333333", "weight": 2},
                   tooltip=folium.GeoJsonTooltip(["name", "ags"], ["Municipality", "AGS"])).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    folium.plugins.Fullscreen().add_to(m)
    folium.plugins.MeasureControl(primary_length_unit="meters", primary_area_unit="hectares").add_to(m)
    m.get_root().html.add_child(folium.Element(_panel(summary, technologies, attribution)))
    m.get_root().html.add_child(folium.Element(_legend(technologies)))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


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


def save_map(m: folium.Map, path: str | os.PathLike, embed: bool = True) -> Path:
    """Write a map to HTML through a temporary file; ``embed`` inlines the JS/CSS assets."""
    page = m.get_root().render()
    if embed:
        page = embed_assets(page)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("Wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def write_maps(results: dict[str, gpd.GeoDataFrame], boundaries: gpd.GeoDataFrame, out: str | os.PathLike,
               potential: pd.DataFrame | None = None, summary: pd.DataFrame | None = None,
               attribution: list[str] | None = None, embed: bool = True, title: str = "landuse") -> list[Path]:
    """``map.html`` with every technology and ``map_<technology>.html`` for each one."""
    out = Path(out)
    paths = [save_map(build_map(results, boundaries, potential, summary, attribution, TECHNOLOGIES, title=title),
                      out / "map.html", embed)]
    for tech in TECHNOLOGIES:
        m = build_map(results, boundaries, potential, summary, attribution, (tech,),
                      title=f"{title}: {TECH_TITLE[tech]}")
        paths.append(save_map(m, out / f"map_{tech}.html", embed))
    return paths


__all__ = ["build_map", "save_map", "write_maps", "embed_assets"]
