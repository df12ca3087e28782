"""Maps: content, reasons in words, size, offline assets, and a real browser with the network off."""

import json
import os
import re

import numpy as np
import pytest
import shapely
from browser import CHROMIUM, overlaps, probe, screenshot
from conftest import X0, Y0
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from landuse.criteria import Exclusion, load_rule_sets
from landuse.maps import (
    ASSETS,
    OWN_ASSETS,
    STATIC,
    _encode_lines,
    _encode_polygons,
    build_map,
    embed_assets,
    exclusion_sentence,
    reason_words,
    save_map,
)
from landuse.technologies import get as technology


def _browser():
    if CHROMIUM is None:
        if os.environ.get("LANDUSE_REQUIRE_BROWSER"):  # CI: the browser test must run
            pytest.fail("chromium is not installed (Debian package chromium)")
        pytest.skip("Debian package chromium not installed")


def _data(page: str) -> dict:
    """The map's data block (what the layers and popups read)."""
    found = re.search(r'<script type="application/json" id="landuse-data">(.*?)</script>', page, re.S)
    assert found, "no data block"
    return json.loads(found.group(1).replace("<\\/", "</"))


def _decode(text: str, precision: int = 5) -> list[tuple[float, float]]:
    """Google's polyline decoding (the reference algorithm), as the map's script does it."""
    out, i, lat, lng = [], 0, 0, 0
    while i < len(text):
        for k in range(2):
            shift = result = 0
            while True:
                b = ord(text[i]) - 63
                i += 1
                result |= (b & 31) << shift
                shift += 5
                if b < 32:
                    break
            delta = ~(result >> 1) if result & 1 else result >> 1
            if k == 0:
                lat += delta
            else:
                lng += delta
        out.append((lat / 10 ** precision, lng / 10 ** precision))
    return out


def _tiny_map(res, **kwargs):
    summary, potential, parts = res["balance"].data
    potential = potential[potential["tier"] == "realistic"].drop(columns="tier")
    return build_map(res["suitability"].data, res["layers"].data["boundaries"], potential=potential, summary=summary,
                     attribution=res["layers"].data.attribution, title="tiny", **kwargs)


def test_maps_written(tiny_run):
    _, out = tiny_run
    for name in ("map.html", "map_wind.html", "map_pv.html", "map_agroforestry.html"):
        assert (out / name).stat().st_size > 100_000  # Leaflet itself is embedded


def test_embedded_map_needs_no_network(tiny_run):
    _, out = tiny_run
    page = (out / "map.html").read_text(encoding="utf-8")
    # no script or stylesheet comes from the network; only the base-map tiles do
    assert not re.findall(r'<script src="https?://', page)
    assert not re.findall(r'<link rel="stylesheet" href="https?://', page)
    assert "L.control.scale({imperial: false" in page
    assert "© OpenStreetMap contributors" in page and "test boundaries" in page
    for name in OWN_ASSETS:  # the map's own script and style, inline
        assert (STATIC / name).read_text(encoding="utf-8")[:300].replace("</script", "<\\/script") in page


def test_polylines_round_trip():
    ring = [(12.345678, 51.234567), (12.35, 51.234567), (12.35, 51.2401), (12.3401, 51.24), (12.345678, 51.234567)]
    hole = [(12.346, 51.236), (12.347, 51.236), (12.347, 51.237), (12.346, 51.236)]
    geoms = np.array([Polygon(ring, [hole]), MultiPolygon([Polygon(ring), box(13, 52, 13.001, 52.001)]),
                      shapely.LineString([(-1.5, -0.25), (179.99999, 89.9)])], dtype=object)
    polys = _encode_polygons(geoms[:2])
    assert [len(p) for p in polys] == [1, 2] and len(polys[0][0]) == 2  # polygons, rings (exterior, hole)
    assert _decode(polys[0][0][0]) == [(round(y, 5), round(x, 5)) for x, y in ring[:-1]]  # lat, lng; open ring
    assert _decode(polys[0][0][1]) == [(round(y, 5), round(x, 5)) for x, y in hole[:-1]]
    assert len(_decode(polys[1][1][0])) == 4
    (line,) = _encode_lines(geoms[2:])
    assert _decode(line[0]) == [(-0.25, -1.5), (89.9, 179.99999)]  # negative values, large deltas


def test_polylines_encoded_in_blocks_as_in_one(monkeypatch):
    import landuse.maps

    rings = shapely.get_exterior_ring(shapely.buffer(shapely.points(np.column_stack(
        [np.linspace(12.0, 12.9, 40), np.linspace(51.0, 51.4, 40)])), np.linspace(0.001, 0.02, 40), quad_segs=4))
    whole = landuse.maps._encode_paths(rings, closed=True)
    monkeypatch.setattr(landuse.maps, "PATHS_PER_BLOCK", 7)
    assert landuse.maps._encode_paths(rings, closed=True) == whole
    assert len(whole) == 40 and _decode(whole[5])[0] == pytest.approx(
        tuple(np.round(shapely.get_coordinates(rings[5])[0, ::-1], 5)))


def test_saved_data_block_is_the_one_the_page_renders(tiny_run, tmp_path):
    res, _ = tiny_run
    m = _tiny_map(res)
    rendered = _data(m.get_root().render())  # a notebook shows the map this way
    page = save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert _data(page) == rendered
    assert len(rendered["parcels"]["id"]) > 0 and "panel" in rendered and "<!--landuse-data" not in page
    assert page.count('id="landuse-data"') == 1


def test_exclusion_rules_in_words():
    def rule(layer, where, buffer, name="r"):
        return Exclusion(name, layer, where, buffer, "test", "EST")

    # wind: a tower distance was reduced by the rotor radius when the rules were read
    assert exclusion_sentence(rule("landcover", "`class` == 'residential'", 920.0), 80.0) == \
        "closer than 1,000 m to a residential area"
    assert exclusion_sentence(rule("water_bodies", None, 50.0), 80.0, "rotor") == \
        "closer than 50 m (from the rotor tip) to a water body"
    assert exclusion_sentence(rule("building_groups", "group_size >= 5", 1000.0)) == \
        "closer than 1,000 m to a group of 5 or more dwellings"
    assert exclusion_sentence(rule("building_groups", "group_size >= 1", 50.0)) == "closer than 50 m to a dwelling"
    assert exclusion_sentence(rule("building_groups", "group_size < 5", 494.0)) == \
        "closer than 494 m to a group of up to 4 dwellings"
    assert exclusion_sentence(rule("roads", "`class` == 'secondary' or kind in ['minor', 'unclassified']", 30.0)) == \
        "closer than 30 m to a secondary, minor or unclassified road"
    assert exclusion_sentence(rule("roads", "`class` == 'trunk_primary'", 20.0)) == "closer than 20 m to a federal road"
    assert exclusion_sentence(rule("railways", "kind != 'tram'", 247.0)) == "closer than 247 m to a railway"
    assert exclusion_sentence(rule("waterways", "not tunnel", 0.0)) == "on a waterway"
    assert exclusion_sentence(rule("protected_areas", "type in ['NSG', 'NP']", 0.0)) == \
        "inside a nature reserve or national park"
    assert exclusion_sentence(rule("landcover", "`class` in ['residential', 'industrial']", 0.0)) == \
        "inside a residential or industrial area"
    assert exclusion_sentence(rule("aerodromes", "`class` == 'navigationaid'", 3000.0)) == \
        "closer than 3,000 m to a radio navigation aid"
    # a layer or filter the words do not know: the rule's name
    assert exclusion_sentence(rule("new_layer", None, 12.5, "bat_colony")) == "closer than 12.5 m to bat colony"
    assert exclusion_sentence(rule("roads", "width > 5", 10.0, "wide_road")) == "closer than 10 m to wide road"


def test_reasons_in_words_from_the_rule_sets():
    rules = load_rule_sets()
    wind = {w["code"]: w for w in reason_words(technology("wind"), rules["wind"],
                                               ["settlement", "land_cover_residential", "navigation_aid", "odd_code"])}
    assert wind["settlement"]["text"] == "closer than 1,000 m to a residential area"
    assert wind["settlement"]["short"] == "SächsBO §84(2) (2022)" and wind["settlement"]["status"] == "sourced"
    assert wind["settlement"]["source"].startswith("SächsBO §84(2) (2022): 1000 m")
    assert wind["land_cover_residential"]["text"].startswith("land cover residential area: not eligible (eligible: "
                                                             "arable land")
    assert wind["navigation_aid"]["text"] == "closer than 3,000 m to a radio navigation aid"
    assert wind["odd_code"] == {"code": "odd_code", "text": "odd code", "source": "", "short": "", "status": ""}
    pv = {w["code"]: w for w in reason_words(technology("pv"), rules["pv"], ["min_patch", "soil_agri_pv_only"])}
    assert pv["min_patch"]["text"] == "eligible patches smaller than the minimum plant area of 3 ha"
    assert pv["soil_agri_pv_only"]["text"].startswith("farmland too good for conventional PV (plant-available water "
                                                      "above 180 mm)")
    assert pv["soil_agri_pv_only"]["status"] == "estimate"
    # without rule sets: the codes in words
    assert reason_words(technology("pv"), None, ["waterway_riparian"])[0]["text"] == "waterway riparian"


def test_data_block_holds_every_parcel_reason_and_estimate(tiny_run):
    res, _ = tiny_run
    parcels = res["suitability"].data["parcels"]
    candidates = parcels[parcels["candidate"].astype(bool)]
    d = _data(_tiny_map(res, allocation=res["balance"].data[2]).get_root().render())
    p = d["parcels"]
    assert len(p["g"]) == len(p["id"]) == len(candidates) and all(p["g"])  # no parcel dropped
    assert sorted(p["id"]) == sorted(candidates["parcel_id"])
    assert set(d["municipalities"]) == {"Nordheim", "Südheim"}
    techs = {t["name"]: t for t in d["techs"]}
    assert list(techs) == ["wind", "pv", "agroforestry"]
    wind = techs["wind"]
    texts = {r["code"]: r["text"] for r in wind["reasons"]}
    assert texts["navigation_aid"] == "closer than 3,000 m to a radio navigation aid"
    assert all(r["source"] for r in wind["reasons"])  # every reason a rule or the eligible land cover
    # each parcel's reasons point into the words, with the share each rule excludes on its own
    k = list(techs).index("wind")
    for i, pid in enumerate(p["id"]):
        codes = [c for c in candidates.set_index("parcel_id").loc[pid, "wind_reason"].split(";") if c]
        row = p["t"][k]["r"][i]
        assert [wind["reasons"][j]["code"] for j in row[::2]] == codes
        assert all(s is None or 0 <= s <= 100 for s in row[1::2])
    labels = [e["label"] for e in techs["pv"]["estimates"]]
    assert "PV capacity" in labels and "Agri-PV capacity (apart)" in labels
    assert [e["apart"] for e in techs["pv"]["estimates"] if e["label"] == "Agri-PV capacity (apart)"] == [True]
    assert {c["label"] for c in wind["criteria"]} >= {"Land cover", "Eligible area"}
    assert "u" in p and any(p["u"])  # the realistic tier's uses per parcel
    assert {"allocation", "wind_eligible", "pv_eligible", "borders"} <= set(d["layers"])
    assert d["panel"]["title"].startswith("Balance:") and "Realistic tier" in d["panel"]["html"]
    assert "Realistic tier, use per hectare" in d["legend"]["html"]


def test_both_tiers_in_the_popups_when_given(tiny_run):
    res, _ = tiny_run
    summary, potential, _ = res["balance"].data
    d = _data(build_map(res["suitability"].data, res["layers"].data["boundaries"], potential=potential,
                        summary=summary, technologies=["pv"]).get_root().render())
    assert d["technical"] and {"x", "xt"} <= set(d["parcels"]["t"][0])  # realistic first, technical beside it
    assert len(d["parcels"]["t"][0]["xt"][0]) == len(d["parcels"]["id"])


def test_layers_and_what_shows_first(tiny_run):
    res, _ = tiny_run
    page = _tiny_map(res, allocation=res["balance"].data[2]).get_root().render()
    specs = [json.loads(s) for s in re.findall(r"landuse\.layer\((\{.*?\})\);", page)]
    kinds = [s["kind"] for s in specs]
    assert kinds[0] == "allocation" and specs[0]["show"]  # the realistic tier first, shown when the map opens
    assert kinds[-1] == "borders"
    assert [s["show"] for s in specs if s["kind"] == "score"] == [False, False, False]
    assert [s["show"] for s in specs if s["kind"] == "parcels"] == [True]  # every parcel takes a click
    single = _tiny_map(res, technologies=["wind"]).get_root().render()
    specs = [json.loads(s) for s in re.findall(r"landuse\.layer\((\{.*?\})\);", single)]
    assert [s["show"] for s in specs if s["kind"] == "score"] == [True]  # one technology: its score


@pytest.mark.parametrize("embed", [True, False])
def test_save_map_twice_gives_identical_bytes(tiny_run, tmp_path, embed):
    res, _ = tiny_run
    first, second = _tiny_map(res), _tiny_map(res)  # two builds: folium draws new random ids
    assert first.get_name() != second.get_name()
    a = save_map(first, tmp_path / "a.html", embed=embed)
    c = save_map(second, tmp_path / "c.html", embed=embed)
    page = a.read_text(encoding="utf-8")
    assert f"map_{0:032x}" in page and first.get_name() not in page  # ids renumbered in order of appearance
    # still the whole map: data, panel, legend, and Leaflet inlined only when embedding
    assert "Nordheim" in page and "landuse.setup(" in page and '"panel":' in page and '"legend":' in page
    assert ('<script src="https://' in page) is not embed
    assert a.stat().st_size > (100_000 if embed else 10_000)
    assert a.read_bytes() == c.read_bytes()  # two maps of the same inputs
    b = save_map(first, tmp_path / "b.html", embed=embed)
    assert a.read_bytes() == b.read_bytes()  # the same map saved again


def test_embed_replaces_every_known_asset():
    page = ('<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
            '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
            '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>')
    out = embed_assets(page)
    assert "code.jquery.com" not in out and "<script src=" not in out and '<link rel="stylesheet"' not in out
    assert (STATIC / ASSETS["leaflet.js"]).read_text(encoding="utf-8")[:200] in out
    assert "data:image/png;base64," in out  # leaflet.css images inlined


def test_own_assets_enter_the_maps_cache_key(tmp_path):
    # the map stage's key covers landuse/maps.py and the map's own script and style
    from landuse.pipeline import output_code_key

    key = output_code_key("maps")
    assert key == output_code_key("maps") and key != output_code_key("exports")
    copy = tmp_path / "landuse"
    import shutil

    shutil.copytree(STATIC.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "static" / OWN_ASSETS[0]).write_text("/* changed */", encoding="utf-8")
    assert output_code_key("maps", package_dir=copy) != output_code_key("maps")


def test_static_assets_listed_with_their_licence():
    listed = (STATIC / "LICENSES.md").read_text(encoding="utf-8")
    for name in (*ASSETS.values(), *OWN_ASSETS):
        assert name in listed, name


def _click_point():
    # the field south of the municipal border, east of the track: parcel 14999002-…
    return Transformer.from_crs("EPSG:25833", "EPSG:4326", always_xy=True).transform(X0 + 1400, Y0 + 800)[::-1]


def test_map_in_headless_chromium_offline(tiny_run, tmp_path):
    _browser()
    _, out = tiny_run
    seen = probe(out / "map.html", tmp_path)
    assert seen["errors"] == []
    assert seen["leaflet"] and seen["maps"] == 1 and seen["ready_ms"] is not None
    assert seen["drawn"] >= 1 and seen["panel"] and seen["legend"]
    assert seen["scale"].strip().endswith(("m", "km"))
    for label in ("Realistic tier: one use per hectare (allocation)", "Parcels (outline; click for details)",
                  "Wind: score", "Open-space PV: eligible area", "Agroforestry / coppice: score", "Municipal borders"):
        assert label in seen["labels"], seen["labels"]
    assert seen["labels"][0].startswith("Realistic tier")  # the realistic tier first
    assert {"Realistic tier: one use per hectare (allocation)", "Municipal borders"} <= set(seen["checked"])
    single = probe(out / "map_wind.html", tmp_path)
    assert single["errors"] == [] and all(label.startswith(("Wind", "Parcels", "Municipal"))
                                          for label in single["labels"])
    assert "Wind: score" in single["checked"]


def test_first_click_opens_the_parcels_popup_in_words(tiny_run, tmp_path):
    _browser()
    _, out = tiny_run
    for page in ("map.html", "map_pv.html"):  # with the realistic tier's allocation on top, and without
        clicked = probe(out / page, tmp_path, click=_click_point(), size="1366,768")
        assert clicked["errors"] == []
        popup = " ".join(clicked["popup"].split())
        # the parcel's popup, not the municipal border's tooltip; its headline first
        assert popup.startswith("Parcel 14999002-") and "Südheim" in popup, popup[:300]
        assert re.search(r"score \d+/100|excluded", popup), popup[:500]
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", popup), popup  # no codes like motorway_building_ban
        assert "details and sources" in popup  # folded details
        assert 0 < clicked["popup_px"] <= 800
        html = clicked["popup_html"]
        assert "<details>" in html and "<details open" not in html
        if page == "map.html":
            # the realistic tier's use heads it; wind's reason in words with its legal source
            assert "Realistic tier (one use per hectare):" in popup.split("Wind:")[0]
            head = popup.split("details and sources")[0]
            assert re.search(r"Wind: excluded ?closer than [\d,]+ m to an? [a-z ]+ — [A-Z]", head), head
            assert "closer than 1,000 m to a residential area" in popup and "SächsBO §84(2) (2022)" in popup


def test_controls_leave_the_region_clear(tiny_run, tmp_path):
    _browser()
    _, out = tiny_run
    small = probe(out / "map.html", tmp_path, size="1366,768")
    assert dict(small["folded"]) == {"landuse-layers": True, "landuse-panel": True, "landuse-legend": True}
    assert overlaps(small["layout"]) == [], small["layout"]  # legend, layers, panel, zoom, scale, attribution
    r = small["layout"]["region"]
    assert r["x1"] - r["x0"] > 0.3 * small["layout"]["width"] or r["y1"] - r["y0"] > 0.3 * small["layout"]["height"]
    large = probe(out / "map.html", tmp_path, size="1920,1200")
    assert dict(large["folded"]) == {"landuse-layers": False, "landuse-panel": False, "landuse-legend": False}
    assert overlaps(large["layout"]) == [], large["layout"]
    png = screenshot(out / "map.html", tmp_path / "map.png", tmp_path, size="1366,768")
    assert png.stat().st_size > 20_000
    shot = os.environ.get("LANDUSE_SCREENSHOT_DIR")
    if shot:  # keep screenshots to look at
        from pathlib import Path

        screenshot(out / "map.html", Path(shot) / "tiny_map_1366x768.png", tmp_path, size="1366,768")
        screenshot(out / "map.html", Path(shot) / "tiny_map_popup.png", tmp_path, size="1366,768",
                   click=_click_point())


def test_maps_share_their_display_geometry_and_give_the_maps_built_alone(tiny_run, tmp_path, monkeypatch):
    import landuse.maps as maps

    res, _ = tiny_run
    summary, potential, parts = res["balance"].data
    potential = potential[potential["tier"] == "realistic"].drop(columns="tier")
    names = ["wind", "pv", "agroforestry"]
    simplified = []
    real_web = maps._web
    monkeypatch.setattr(maps, "_web", lambda gdf, tol: simplified.append(len(gdf)) or real_web(gdf, tol))
    written = maps.write_maps(res["suitability"].data, res["layers"].data["boundaries"], tmp_path / "shared",
                              potential=potential, summary=summary, attribution=res["layers"].data.attribution,
                              technologies=names, allocation=parts, title="tiny")
    candidates = int(res["suitability"].data["parcels"]["candidate"].sum())
    # the candidate parcels are simplified and reprojected once for the four maps, not four times
    assert simplified.count(candidates) == 1
    eligible = [n for n in names if len(res["suitability"].data.get(f"{n}_eligible", []))]
    assert len(simplified) == 1 + 1 + len(eligible) + sum(  # parcels, the allocation (map.html only), eligible
        1 for n in names for layer in technology(n).layers if layer.geometry != "point"
        and len(res["suitability"].data.get(f"{n}_{layer.key}", [])))
    # each map is the one built on its own, byte for byte
    common = {"potential": potential, "summary": summary, "attribution": res["layers"].data.attribution}
    alone = [save_map(build_map(res["suitability"].data, res["layers"].data["boundaries"], technologies=names,
                                allocation=parts, title="tiny", **common), tmp_path / "map.html")]
    alone += [save_map(build_map(res["suitability"].data, res["layers"].data["boundaries"], technologies=[n],
                                 title=f"tiny: {technology(n).title}", **common), tmp_path / f"map_{n}.html")
              for n in names]
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in alone]
