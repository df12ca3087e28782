"""Maps: content, size, offline assets, and a real browser with the network off."""

import os
import re

import pytest
from browser import CHROMIUM, probe, screenshot
from conftest import X0, Y0
from pyproj import Transformer

from landuse.maps import ASSETS, STATIC, build_map, embed_assets, save_map


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


def test_popups_carry_scores_reasons_and_estimates(tiny_run):
    res, _ = tiny_run
    summary, potential, _ = res["balance"].data
    potential = potential[potential["tier"] == "realistic"].drop(columns="tier")
    m = build_map(res["suitability"].data, res["layers"].data["boundaries"], potential=potential, summary=summary,
                  attribution=["test"])
    page = m.get_root().render()
    for text in ("Score (0-100)", "Excluded by", "PV capacity (MWp, realistic tier)", "Wood (t DM/a, realistic tier)",
                 "Wood-chip heat: avoided emissions (t CO2e/a, realistic tier)",
                 "Agri-PV capacity (apart) (MWp, apart from both tiers)", "navigation_aid", "Nordheim", "landuse-panel",
                 "landuse-legend", "Wind score (0-100)", "Open-space PV excluded by"):
        assert text in page, text


def _tiny_map(res):
    summary, potential, _ = res["balance"].data
    potential = potential[potential["tier"] == "realistic"].drop(columns="tier")
    return build_map(res["suitability"].data, res["layers"].data["boundaries"], potential=potential, summary=summary,
                     attribution=res["layers"].data.attribution, title="tiny")


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
    assert "Nordheim" in page and "landuse-panel" in page and "landuse-legend" in page
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


def test_map_in_headless_chromium_offline(tiny_run, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("LANDUSE_REQUIRE_BROWSER"):  # CI: the browser test must run
            pytest.fail("chromium is not installed (Debian package chromium)")
        pytest.skip("Debian package chromium not installed")
    _, out = tiny_run
    seen = probe(out / "map.html", tmp_path)
    assert seen["errors"] == []
    assert seen["leaflet"] and seen["maps"] == 1
    assert seen["drawn"] >= 1 and seen["panel"] and seen["legend"]
    assert seen["scale"].strip().endswith(("m", "km"))
    for label in ("Wind: score", "Wind: excluded parcels", "Open-space PV: eligible area",
                  "Agroforestry / coppice: score", "Municipal borders"):
        assert label in seen["labels"], seen["labels"]
    # the first click on a parcel opens the parcel's popup, not the municipal border's tooltip
    lon, lat = Transformer.from_crs("EPSG:25833", "EPSG:4326", always_xy=True).transform(X0 + 1400, Y0 + 800)
    clicked = probe(out / "map.html", tmp_path, click=(lat, lon))
    assert clicked["errors"] == []
    popup = " ".join(clicked["popup"].split())
    assert popup.startswith("Parcel 14999002-") and "Municipality Südheim" in popup, popup[:200]
    png = screenshot(out / "map.html", tmp_path / "map.png", tmp_path)
    assert png.stat().st_size > 20_000
    single = probe(out / "map_wind.html", tmp_path)
    assert single["errors"] == [] and all(label.startswith(("Wind", "Municipal")) for label in single["labels"])


@pytest.mark.skipif(CHROMIUM is None or not os.environ.get("LANDUSE_SCREENSHOT_DIR"),
                    reason="set LANDUSE_SCREENSHOT_DIR to keep screenshots")
def test_keep_screenshot(tiny_run, tmp_path):
    from pathlib import Path

    _, out = tiny_run
    screenshot(out / "map.html", Path(os.environ["LANDUSE_SCREENSHOT_DIR"]) / "tiny_map.png", tmp_path)
