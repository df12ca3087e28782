"""Interactive Folium maps for planners: scores, eligible areas, turbines, tree strips,
municipal borders, excluded parcels, a legend per layer, and a panel with the balance.

Geometries are simplified for display only (the analysis keeps full precision) and the
Leaflet assets are embedded by default, so a map opens offline (tiles aside).
"""

from __future__ import annotations

import base64
import copy
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

from landuse import technologies as registry
from landuse.config import WEB_CRS
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


#: Which tier the popups' estimates are from (the pipeline passes the realistic potential).
POPUP_TIER = "realistic tier"


def _estimates(tech: Technology, columns) -> dict[str, tuple[str, int]]:
    """Potential columns shown in a technology's popups: column → (label with unit and tier, decimals)."""
    return {o.column: (f"{o.label} ({o.unit}, {POPUP_TIER if o.in_total else 'apart from both tiers'})", o.decimals)
            for o in tech.outputs if o.column in columns}


def _score_layer(parcels: gpd.GeoDataFrame, tech: Technology, score_cmap: cm.LinearColormap, show: bool,
                 techs: list[Technology]) -> folium.GeoJson:
    score_col = f"{tech.name}_score"
    sub_cols = [c for c in parcels.columns if c.startswith(f"{tech.name}_sub_")]
    est = _estimates(tech, parcels.columns)
    others = [t for t in techs if t.name != tech.name and f"{t.name}_score" in parcels.columns]
    fields = ["parcel_id", "municipality", "class", "area_ha", f"{tech.name}_eligible_ha", score_col, *sub_cols,
              f"{tech.name}_reason", *est, *[f"{t.name}_score" for t in others],
              *[f"{t.name}_reason" for t in others]]
    aliases = ["Parcel", "Municipality", "Land cover", "Area (ha)", "Eligible (ha)", "Score (0-100)",
               *[f"· {c.removeprefix(f'{tech.name}_sub_').replace('_', ' ')} (0-100)" for c in sub_cols],
               "Excluded (in part) by", *[v[0] for v in est.values()],
               *[f"{t.title} score (0-100)" for t in others],
               *[f"{t.title} excluded by" for t in others]]
    data = parcels[fields + ["geometry"]]
    return folium.GeoJson(
        data.to_json(na="null", drop_id=True),
        name=f"{tech.title}: score",
        style_function=lambda f, c=score_col: {
            "fillColor": score_cmap(f["properties"][c]) if f["properties"][c] is not None else "#999999",
            "color": "#444444", "weight": 0.5, "fillOpacity": 0.7},
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(["municipality", score_col], ["Municipality", "Score"]),
        popup=folium.GeoJsonPopup(fields, aliases, localize=True, max_width=420),
        show=show,
    )


def _share(value: float, whole: float) -> str:
    return f"{value / whole:.1%}" if whole and whole == whole else "–"


def _panel(summary: pd.DataFrame | None, techs: list[Technology], attribution: list[str]) -> str:
    """HTML of the balance panel: the realistic tier in both frames, the technical upper bound
    beside it (groups and region at the largest realised share)."""
    rows = []
    if summary is not None and len(summary):
        full = summary[summary["share_realised"] == summary["share_realised"].max()]
        tiers = full["tier"] if "tier" in full else pd.Series("technical", index=full.index)
        real = full[(tiers == "realistic").to_numpy()] if (tiers == "realistic").any() else full
        tech_rows = full[(tiers == "technical").to_numpy()]
        share = full["share_realised"].iloc[0]
        measures = [(o.label, o.column) for t in techs for o in t.outputs
                    if o.kind in ("avoided", "sequestered") and o.in_total and o.column in full.columns]
        td = "<td style='text-align:right'>"
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
                f"<b>{html.escape(str(name))}</b> · load {load:,.0f} t CO2e/a (territorial baseline)"
                "<div style='font-size:10px;color:#555'>Realistic tier (one use per hectare), "
                "avoided-emissions frame (UBA, grid mix central):</div>"
                f"<table style='width:100%;font-size:11px'><tr><th></th><th>t CO2e/a</th><th>of load</th></tr>"
                f"{cells}<tr><td><b>Total</b></td>{td}<b>{total:,.0f}</b></td>{td}<b>{_share(total, load)}</b></td>"
                f"</tr></table><div style='font-size:10px;color:#555'>range {_share(low, load)}–{_share(high, load)}"
                + (f"; technical upper bound {bound:,.0f} t CO2e/a" if bound is not None else "") + "</div>"
                "<div style='font-size:11px;margin-top:2px'>Territorial frame (BISKO): fossil heat replaced "
                f"{row['territorial_t_co2e_a']:,.0f} t CO2e/a = {_share(row['territorial_t_co2e_a'], load)} of the "
                f"load; sinks {row['sinks_t_co2e_a']:,.0f} t CO2e/a beside it; local electricity "
                f"{row['local_electricity_mwh_a']:,.0f} MWh/a = "
                f"{_share(row['local_electricity_mwh_a'], row['energy_use_mwh_a'])} of the energy use</div>")
        head = f"Balance: {share:.0%} of the potential realised"
    else:
        head = "Balance: not computed"
    sources = " · ".join(html.escape(a) for a in attribution)
    return (
        "<div id='landuse-panel' style='position:fixed;bottom:24px;left:10px;z-index:9999;background:white;"
        "padding:8px 10px;border:1px solid #888;border-radius:4px;max-width:320px;max-height:60%;overflow:auto;"
        f"font:12px sans-serif'><div style='font-weight:bold;margin-bottom:4px'>{head}</div>{''.join(rows)}"
        f"<div style='font-size:10px;color:#555;margin-top:4px'>Data: {sources}</div></div>")


def _symbol(layer: ResultLayer) -> str:
    """Legend symbol of a result layer (HTML)."""
    if layer.geometry == "point":
        return (f"<span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
                f"background:{layer.color};border:1px solid white'></span>")
    if layer.style == "outline":
        return f"<span style='display:inline-block;width:12px;height:12px;border:2px dashed {layer.color}'></span>"
    return f"<span style='display:inline-block;width:12px;height:12px;background:{layer.color}'></span>"


def _legend(techs: list[Technology]) -> str:
    """HTML of the legend: score colours and one symbol per layer, with units."""
    grad = ", ".join(SCORE_COLORS)
    items = [f"<div><span style='display:inline-block;width:120px;height:10px;background:linear-gradient(to right,"
             f"{grad})'></span><br><span style='font-size:10px'>0 (poor) … 100 (good): score of a parcel</span></div>"]
    for tech in techs:
        items.append(f"<div><span style='display:inline-block;width:12px;height:12px;background:{tech.color};"
                     f"opacity:.6'></span> {html.escape(tech.title)}: eligible area (ha)</div>")
    for tech in techs:
        items += [f"<div>{_symbol(layer)} {html.escape(layer.title)}</div>" for layer in tech.layers]
    items.append("<div><span style='display:inline-block;width:12px;height:12px;background:#bbbbbb'></span> "
                 "Excluded parcel (reason in popup)</div>")
    items.append("<div><span style='display:inline-block;width:12px;height:2px;background:#333'></span> "
                 "Municipal border</div>")
    return ("<div id='landuse-legend' style='position:fixed;bottom:24px;right:10px;z-index:9999;background:white;"
            "padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif'>"
            f"<div style='font-weight:bold'>Legend</div>{''.join(items)}</div>")


def _result_layer(gdf: gpd.GeoDataFrame, layer: ResultLayer, simplify_m: float) -> folium.GeoJson:
    """A technology's own result layer (points as circle markers, polygons filled or outlined)."""
    fields = [c for c in layer.fields if c in gdf.columns]
    if layer.geometry == "point":
        data = gdf.to_crs(WEB_CRS)
        style = {"marker": folium.CircleMarker(radius=5, fill=True, fill_opacity=1, color="white", weight=1,
                                               fill_color=layer.color)}
    else:
        data = _web(gdf, layer.simplify_m if layer.simplify_m is not None else simplify_m)
        look = ({"fillOpacity": 0, "color": layer.color, "weight": 1.5, "dashArray": "4 4"}
                if layer.style == "outline" else
                {"fillColor": layer.color, "color": layer.color, "weight": 1, "fillOpacity": 0.8})
        style = {"style_function": lambda f, s=look: s}
    data = _round(data[[*fields, "geometry"]], {c: 3 for c in fields if c.endswith(("_ha", "_mw"))})
    labels = [layer.fields[c] for c in fields]
    return folium.GeoJson(data.to_json(na="null", drop_id=True), name=layer.title,
                          tooltip=folium.GeoJsonTooltip(fields[-2:] if len(fields) > 1 else fields,
                                                        labels[-2:] if len(fields) > 1 else labels),
                          popup=folium.GeoJsonPopup(fields, labels), show=layer.show, **style)


def build_map(
    results: dict[str, gpd.GeoDataFrame],
    boundaries: gpd.GeoDataFrame,
    *,
    potential: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    attribution: list[str] | None = None,
    technologies: list[str] | None = None,
    allocation: gpd.GeoDataFrame | None = None,
    simplify_m: float = 5.0,
    title: str = "landuse",
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
        Potential per parcel (index parcel id) for the popups' estimates.
    summary : DataFrame, optional
        The balance (:func:`landuse.carbon.balance` blocks) for the panel.
    attribution : list of str
        Data sources, shown in the panel and the map's attribution.
    technologies : list of str, optional
        Technologies to show (default: every registered one with results; one map per
        technology for handing out).
    allocation : GeoDataFrame, optional
        The realistic tier's parcel parts by use (:func:`landuse.allocation.allocate`).
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
    estimates = {c: v for t in techs for c, v in _estimates(t, potential.columns if potential is not None else
                                                            parcels.columns).items()}
    if potential is not None:
        parcels = parcels.join(potential[[c for c in estimates if c not in parcels]], on="parcel_id")
    parcels = parcels[parcels["candidate"].astype(bool)]
    web = _web(parcels, simplify_m)
    round_cols = {"area_ha": 2, **{c: 1 for c in web.columns if "_score" in c or "_sub_" in c},
                  **{f"{t.name}_eligible_ha": 2 for t in techs}, **{c: v[1] for c, v in estimates.items()}}
    web = _round(web, round_cols)

    for tech in techs:
        eligible_parcels = web[web[f"{tech.name}_eligible_ha"] > 0]
        # one score layer visible at a time: they cover the same parcels
        _score_layer(eligible_parcels, tech, score_cmap, tech is techs[-1], techs).add_to(m)
        elig = results.get(f"{tech.name}_eligible")
        if elig is not None and len(elig):
            e = _round(_web(elig, simplify_m), {"eligible_ha": 2, "score": 1})
            folium.GeoJson(
                e[["parcel_id", "municipality", "eligible_ha", "score", "geometry"]].to_json(na="null", drop_id=True),
                name=f"{tech.title}: eligible area",
                style_function=lambda f, c=tech.color: {"fillColor": c, "color": c, "weight": 1, "fillOpacity": 0.45},
                tooltip=folium.GeoJsonTooltip(["parcel_id", "eligible_ha"], ["Parcel", "Eligible (ha)"]),
                show=tech.show_eligible and len(techs) > 1,
            ).add_to(m)
        excluded = web[(web[f"{tech.name}_eligible_ha"] <= 0)]
        if len(excluded):
            reason = f"{tech.name}_reason"
            folium.GeoJson(
                excluded[["parcel_id", "municipality", "class", "area_ha", reason, "geometry"]].to_json(
                    na="null", drop_id=True),
                name=f"{tech.title}: excluded parcels",
                style_function=lambda f: {"fillColor": "#bbbbbb", "color": "#888888", "weight": 0.5,
                                          "fillOpacity": 0.5},
                tooltip=folium.GeoJsonTooltip([reason], ["Excluded by"]),
                popup=folium.GeoJsonPopup(["parcel_id", "municipality", "class", "area_ha", reason],
                                          ["Parcel", "Municipality", "Land cover", "Area (ha)", "Excluded by"]),
                show=False,
            ).add_to(m)
    for tech in techs:
        for layer in tech.layers:
            gdf = results.get(f"{tech.name}_{layer.key}")
            if gdf is not None and len(gdf):
                _result_layer(gdf, layer, simplify_m).add_to(m)
    if allocation is not None and len(allocation):
        _allocation_layer(allocation, techs, simplify_m).add_to(m)
    # drawn as lines: a polygon, even unfilled, takes the clicks meant for the parcels inside it
    borders = b4326[["name", "ags"]].set_geometry(b4326.geometry.boundary, crs=WEB_CRS)
    folium.GeoJson(borders.to_json(drop_id=True), name="Municipal borders",
                   style_function=lambda f: {"color": "#333333", "weight": 2},
                   tooltip=folium.GeoJsonTooltip(["name", "ags"], ["Municipality", "AGS"])).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    folium.plugins.Fullscreen().add_to(m)
    folium.plugins.MeasureControl(primary_length_unit="meters", primary_area_unit="hectares").add_to(m)
    m.get_root().html.add_child(folium.Element(_panel(summary, techs, attribution)))
    m.get_root().html.add_child(folium.Element(_legend(techs)))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _allocation_layer(parts: gpd.GeoDataFrame, techs: list[Technology], simplify_m: float) -> folium.GeoJson:
    """The realistic tier: each allocated part coloured by its use, with ha and t CO2e/a."""
    colors = {t.name: t.color for t in techs}
    titles = {t.name: t.title for t in techs}
    data = _web(parts[parts["use"].isin(colors)], simplify_m)
    data = data.assign(use_title=data["use"].map(titles))
    data = _round(data[["parcel_id", "municipality", "use", "use_title", "ha", "avoided_t_co2e_a",
                        "territorial_t_co2e_a", "geometry"]],
                  {"ha": 2, "avoided_t_co2e_a": 0, "territorial_t_co2e_a": 0})
    fields = ["use_title", "parcel_id", "municipality", "ha", "avoided_t_co2e_a", "territorial_t_co2e_a"]
    labels = ["Use (realistic tier)", "Parcel", "Municipality", "Allocated (ha)",
              "Avoided emissions (t CO2e/a, avoided frame)", "Fossil heat replaced (t CO2e/a, territorial frame)"]
    return folium.GeoJson(
        data.to_json(na="null", drop_id=True),
        name="Realistic tier: one use per hectare (allocation)",
        style_function=lambda f, c=colors: {"fillColor": c.get(f["properties"]["use"], "#666666"),
                                            "color": c.get(f["properties"]["use"], "#666666"), "weight": 0.5,
                                            "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(["use_title", "ha"], ["Use", "ha"]),
        popup=folium.GeoJsonPopup(fields, labels), show=False)


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
    page = copy.deepcopy(m).get_root().render()
    if embed:
        page = embed_assets(page)
    page = _stable_ids(page)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
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
               allocation: gpd.GeoDataFrame | None = None, embed: bool = True, title: str = "landuse") -> list[Path]:
    """``map.html`` with every technology and ``map_<technology>.html`` for each one.

    Returns
    -------
    list of Path
        The files written (see :func:`map_files`).
    """
    out = Path(out)
    names = technologies or [t.name for t in registry.technologies()
                             if f"{t.name}_eligible_ha" in results["parcels"].columns]
    common = {"potential": potential, "summary": summary, "attribution": attribution}
    paths = [save_map(build_map(results, boundaries, technologies=names, allocation=allocation, title=title,
                                **common), out / "map.html", embed=embed)]
    for name in names:
        m = build_map(results, boundaries, technologies=[name], title=f"{title}: {registry.get(name).title}",
                      **common)
        paths.append(save_map(m, out / f"map_{name}.html", embed=embed))
    return paths


__all__ = ["build_map", "save_map", "write_maps", "embed_assets", "map_files"]
