"""Shared test fixtures: a tiny synthetic region written as real files (OSM XML, GeoJSON),
and the path of the real data beside the checkout."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LANDUSE_SHARED", REPO.parent / "shared" / "data"))
REAL_REGION_DATA = SHARED_DATA / "leipzig-wurzen"

# Synthetic region east of Wurzen, EPSG:25833: two municipalities stacked north/south.
X0, Y0 = 340_000.0, 5_700_000.0
NORD = box(X0, Y0 + 1000, X0 + 2000, Y0 + 2000)
SUED = box(X0, Y0, X0 + 2000, Y0 + 1000)
MARGIN = 3000.0


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real data of the default region (../shared/data/leipzig-wurzen)."""
    if not REAL_REGION_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_REGION_DATA}")
    return REAL_REGION_DATA


def tiny_features() -> list[tuple[shapely.Geometry, dict[str, str]]]:
    """Features of the synthetic region in EPSG:25833 with their OSM tags."""
    return [
        # a field crossing the municipal border, split by a track (x = X0+1000)
        (box(X0 + 100, Y0 + 600, X0 + 1900, Y0 + 1400), {"landuse": "farmland"}),
        (box(X0 + 100, Y0 + 1500, X0 + 900, Y0 + 1900), {"landuse": "meadow"}),
        (box(X0 + 1100, Y0 + 1500, X0 + 1900, Y0 + 1900), {"natural": "wood"}),
        (box(X0 + 100, Y0 + 50, X0 + 600, Y0 + 350), {"landuse": "residential"}),
        (box(X0 + 1500, Y0 + 50, X0 + 1700, Y0 + 150), {"landuse": "industrial"}),
        # forest in the margin, west of the region
        (box(X0 - 500, Y0 + 500, X0 - 100, Y0 + 900), {"landuse": "forest"}),
        # a motorway running through the south municipality into the margin
        (LineString([(X0 - 1000, Y0 + 450), (X0 + 3000, Y0 + 450)]), {"highway": "motorway"}),
        (LineString([(X0 + 1000, Y0 + 500), (X0 + 1000, Y0 + 1950)]), {"highway": "track"}),
        (LineString([(X0 + 50, Y0 + 500), (X0 + 50, Y0 + 1950)]), {"highway": "footway"}),
        (LineString([(X0 - 200, Y0 + 1450), (X0 + 2200, Y0 + 1450)]), {"railway": "rail"}),
        (LineString([(X0 + 300, Y0 + 1950), (X0 + 1700, Y0 + 1950)]), {"waterway": "stream"}),
        (box(X0 + 1750, Y0 + 1550, X0 + 1850, Y0 + 1650), {"natural": "water", "water": "pond"}),
        # buildings: one inside, one 300 m east of the border, one beyond the margin
        (box(X0 + 200, Y0 + 100, X0 + 215, Y0 + 112), {"building": "house", "building:levels": "2"}),
        (box(X0 + 2300, Y0 + 1500, X0 + 2312, Y0 + 1510), {"building": "house"}),
        (box(X0 + 2000 + MARGIN + 500, Y0 + 1500, X0 + 2000 + MARGIN + 512, Y0 + 1510), {"building": "barn"}),
        (box(X0 + 1200, Y0 + 1600, X0 + 1400, Y0 + 1800),
         {"boundary": "protected_area", "protect_class": "4", "name": "Auwald"}),
        (box(X0 - 800, Y0 - 800, X0 + 2800, Y0 - 100),
         {"boundary": "protected_area", "protect_class": "5", "name": "Landschaft Süd",
          "protection_title": "Landschaftsschutzgebiet"}),
        (LineString([(X0 - 500, Y0 + 1980), (X0 + 2500, Y0 + 1980)]),
         {"power": "line", "voltage": "110000;20000"}),
        (Point(X0 + 2500, Y0 + 200), {"power": "generator", "generator:source": "wind",
                                      "generator:output:electricity": "3.2 MW"}),
        (Point(X0 + 2600, Y0 - 600), {"aeroway": "navigationaid", "name": "DVOR Test"}),
    ]


def write_osm_xml(path: Path, features, crs: str = "EPSG:25833") -> Path:
    """Write features (geometry, tags) as an OSM XML file (nodes and ways, lon/lat)."""
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    ids = itertools.count(1)
    nodes, ways = [], []

    def tag_xml(tags):
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())

    for geom, tags in features:
        if isinstance(geom, Point):
            lon, lat = to_ll.transform(geom.x, geom.y)
            nodes.append(f'<node id="{next(ids)}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">{tag_xml(tags)}</node>')
            continue
        coords = list(geom.exterior.coords) if isinstance(geom, Polygon) else list(geom.coords)
        refs = []
        for x, y in coords[:-1] if isinstance(geom, Polygon) else coords:
            nid = next(ids)
            lon, lat = to_ll.transform(x, y)
            nodes.append(f'<node id="{nid}" version="1" lat="{lat:.8f}" lon="{lon:.8f}"/>')
            refs.append(nid)
        if isinstance(geom, Polygon):
            refs.append(refs[0])
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        ways.append(f'<way id="{next(ids)}" version="1">{nds}{tag_xml(tags)}</way>')
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="landuse-tests">\n'
        + "\n".join(nodes + ways) + "\n</osm>\n", encoding="utf-8")
    return path


def write_tiny_region(base: Path, osm_features=None, extra_yaml: str = "") -> tuple[Path, Path]:
    """Write the synthetic region's data and config under ``base``; returns (yaml, data_dir)."""
    data = base / "data"
    (data / "osm").mkdir(parents=True, exist_ok=True)
    (data / "boundaries").mkdir(parents=True, exist_ok=True)
    write_osm_xml(data / "osm" / "tiny.osm", osm_features or tiny_features())
    gpd.GeoDataFrame(
        {"AGS": ["14999001", "14999002", "14999003"], "GEN": ["Nordheim", "Südheim", "Anderswo"]},
        geometry=[NORD, SUED, box(X0 + 2000, Y0, X0 + 4000, Y0 + 2000)], crs="EPSG:25833",
    ).to_crs("EPSG:4326").to_file(data / "boundaries" / "gemeinden.geojson", driver="GeoJSON")
    cfg = base / "tiny.yaml"
    cfg.write_text(f"""
name: tiny
title: Tiny test region
state: Saxony
margin_m: {MARGIN}
municipalities:
  - {{name: Nordheim, ags: "14999001", group: North}}
  - {{name: Südheim, group: South}}
baseline:
  year: 2016
  source: test figures
  groups:
    North: {{land_area_ha: 200, settlement_ha: 0, transport_ha: 10, vegetation_water_ha: 190, ghg_t_co2e_a: 50000}}
    South: {{land_area_ha: 200, settlement_ha: 20, transport_ha: 15, vegetation_water_ha: 165, ghg_t_co2e_a: 20000}}
sources:
  boundaries:
    type: file
    path: boundaries/gemeinden.geojson
    ags_field: AGS
    name_field: GEN
    attribution: test boundaries
  osm:
    type: osm_xml
    path: osm/tiny.osm
    date: "2026-11"
    licence: ODbL 1.0
    attribution: "© OpenStreetMap contributors"
{extra_yaml}
""", encoding="utf-8")
    return cfg, data


@pytest.fixture(scope="session")
def tiny_region(tmp_path_factory) -> tuple[Path, Path]:
    """(region YAML, data dir) of the synthetic region; files are not modified by tests."""
    return write_tiny_region(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_layers(tiny_region, tmp_path_factory):
    """LayerSet of the synthetic region (built once)."""
    from landuse.config import load_region
    from landuse.layers import build_layers

    cfg, data = tiny_region
    return build_layers(load_region(cfg), data, raster_dir=tmp_path_factory.mktemp("rasters"))


@pytest.fixture(scope="session")
def tiny_run(tiny_region, tmp_path_factory):
    """The whole job on the synthetic region: {stage: StageResult} and the output folder."""
    from landuse.pipeline import run

    cfg, data = tiny_region
    base = tmp_path_factory.mktemp("run")
    out = base / "outputs"
    res = run(cfg, data=data, layers_dir=base / "layers", out=out)
    return res, out


def write_thallwitz_region(folder: Path) -> Path:
    """A one-municipality region (Thallwitz, AGS 14729380) on the default region's data: the
    default region's sources, no emission load (the balance reports absolute figures)."""
    import yaml

    raw = yaml.safe_load((REPO / "landuse" / "regions" / "leipzig-wurzen.yaml").read_text(encoding="utf-8"))
    raw.update(name="thallwitz", title="Thallwitz",
               municipalities=[{"name": "Thallwitz", "ags": "14729380", "group": "Thallwitz", "inhabitants": 3530}],
               baseline={"year": 2016, "source": "no load configured (test region)", "groups": {"Thallwitz": {}}})
    path = folder / "thallwitz.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def thallwitz_region(tmp_path_factory, real_data) -> Path:
    """Region YAML of Thallwitz alone (real data; skipped without it)."""
    return write_thallwitz_region(tmp_path_factory.mktemp("thallwitz"))
