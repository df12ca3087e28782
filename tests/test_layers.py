"""Canonical layers: reprojection, margin, manifest, store reuse and bad input."""

import json
import logging

import geopandas as gpd
import pytest
from conftest import MARGIN, NORD, SUED, X0, Y0, write_tiny_region
from shapely.geometry import LineString, Polygon, box

from landuse.config import WORKING_CRS, load_region
from landuse.errors import ConfigError, DataError
from landuse.layers import LAYER_NAMES, SCHEMA, build_layers, check_coverage, conform, layer_store, read_layers


def test_all_layers_in_working_crs(tiny_layers):
    assert list(tiny_layers.layers) == list(LAYER_NAMES)
    for name, gdf in tiny_layers.layers.items():
        assert gdf.crs.to_epsg() == 25833, name


def test_boundaries_by_ags_and_by_name(tiny_layers):
    b = tiny_layers["boundaries"].set_index("name")
    assert b.loc["Nordheim", "ags"] == "14999001"
    assert b.loc["Südheim", "ags"] == "14999002"  # matched by name, AGS filled from the file
    assert b.loc["Nordheim", "geometry"].area == pytest.approx(NORD.area, rel=1e-6)
    assert tiny_layers.region_geometry.area == pytest.approx(NORD.area + SUED.area, rel=1e-6)


def test_margin_keeps_features_across_the_border(tiny_layers):
    b = tiny_layers["buildings"]
    xs = sorted(b.geometry.centroid.x - X0)
    # inside, 300 m east of the border (kept), beyond the 3 km margin (dropped)
    assert xs == pytest.approx([207.5, 2306], abs=0.5)
    forest = tiny_layers["landcover"].query("subclass == 'forest'")
    assert len(forest) == 1 and forest.geometry.iloc[0].area == pytest.approx(400 * 400, rel=1e-4)
    # the motorway keeps its full length outside the region (it is not cut at the border)
    mw = tiny_layers["roads"].query("kind == 'motorway'").geometry.iloc[0]
    assert mw.length == pytest.approx(4000, abs=0.5)


def test_manifest(tiny_layers):
    m = tiny_layers.manifest
    assert m["crs"] == "EPSG:25833"
    assert m["margin_m"] >= MARGIN
    assert m["layers"]["buildings"]["features"] == 2
    assert m["layers"]["landcover"]["features"] == 7
    osm = next(s for s in m["sources"] if s["source"] == "osm")
    assert len(osm["sha256"]) == 64 and osm["licence"] == "ODbL 1.0" and osm["date"] == "2026-11"
    assert "© OpenStreetMap contributors" in tiny_layers.attribution
    assert m["fingerprint"]["inputs"]


def test_store_reuse_and_rebuild(tmp_path, caplog):
    cfg, data = write_tiny_region(tmp_path)
    store = tmp_path / "layers"
    first, reused = layer_store(cfg, data, layers_dir=store)
    assert not reused
    gpkg = store / "tiny.gpkg"
    stamp = gpkg.stat().st_mtime_ns
    second, reused = layer_store(cfg, data, layers_dir=store)
    assert reused and gpkg.stat().st_mtime_ns == stamp
    assert len(second["roads"]) == len(first["roads"])
    back = read_layers(gpkg)
    assert back["boundaries"]["name"].tolist() == ["Nordheim", "Südheim"]
    assert back["roads"].geometry.length.sum() == pytest.approx(first["roads"].geometry.length.sum())
    # a changed input file triggers a rebuild
    osm_file = data / "osm" / "tiny.osm"
    osm_file.write_text(osm_file.read_text().replace('v="track"', 'v="secondary"'))
    third, reused = layer_store(cfg, data, layers_dir=store)
    assert not reused and "secondary" in set(third["roads"]["class"])
    manifest = json.loads((store / "tiny.manifest.json").read_text())
    assert manifest["layers"]["roads"]["features"] == 2


def test_failed_build_keeps_the_previous_store(tmp_path, monkeypatch):
    cfg, data = write_tiny_region(tmp_path)
    store = tmp_path / "layers"
    layer_store(cfg, data, layers_dir=store)
    before = (store / "tiny.gpkg").read_bytes()

    import landuse.io as lio

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(lio.pyogrio, "write_dataframe", boom)
    with pytest.raises(OSError):
        layer_store(cfg, data, layers_dir=store, force=True)
    assert (store / "tiny.gpkg").read_bytes() == before
    assert [p.name for p in store.iterdir() if p.name.startswith(".")] == []


def test_invalid_geometry_is_repaired(tmp_path, caplog):
    # osmnx repairs OSM polygons itself; official files come in as they are
    bowtie = Polygon([(X0 + 100, Y0 + 100), (X0 + 300, Y0 + 300), (X0 + 300, Y0 + 100), (X0 + 100, Y0 + 300)])
    cfg, data = write_tiny_region(tmp_path)
    gpd.GeoDataFrame({"TYP": ["FFH"]}, geometry=[bowtie], crs="EPSG:25833").to_file(data / "ffh.gpkg")
    cfg.write_text(cfg.read_text() + "  files:\n    - {layer: protected_areas, path: ffh.gpkg, class_field: TYP}\n")
    with caplog.at_level(logging.WARNING):
        ls = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    assert "repaired 1 invalid" in caplog.text
    ffh = ls["protected_areas"].query("type == 'FFH'")
    assert ffh.is_valid.all()
    assert ffh.geometry.area.sum() == pytest.approx(2 * 100 * 200 / 2, rel=1e-6)  # two triangles


def test_unknown_municipality_name_suggests(tmp_path):
    cfg, data = write_tiny_region(tmp_path)
    cfg.write_text(cfg.read_text().replace("name: Südheim,", "name: Südhain,"))
    with pytest.raises(ConfigError, match="Close matches: Südheim"):
        build_layers(load_region(cfg), data)


def test_region_not_covered_by_data():
    far = box(X0 + 20_000, Y0, X0 + 21_000, Y0 + 1000)
    b = gpd.GeoDataFrame({"name": ["Nordheim", "Südheim"]}, geometry=[NORD, far], crs="EPSG:25833")
    with pytest.raises(DataError, match=r"missing Südheim \(1.0 km², 100%\)"):
        check_coverage(b, box(X0 - 5000, Y0 - 5000, X0 + 7000, Y0 + 7000), margin_m=3000, source="test.gpkg")


def test_a_sliver_outside_the_data_is_a_note_more_is_an_error():
    # 1 km² municipalities; the data end 20 m (2 %) and 60 m (6 %) short of their east side
    west = box(X0, Y0, X0 + 1000, Y0 + 1000)
    east = box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)
    b = gpd.GeoDataFrame({"name": ["West", "East"]}, geometry=[west, east], crs="EPSG:25833")
    out = check_coverage(b, box(X0 - 5000, Y0 - 5000, X0 + 1980, Y0 + 5000), margin_m=100, source="tiles.mbtiles")
    assert out["municipalities_missing"] == {"East": [0.02, 0.02]}
    assert out["region_missing_km2"] == pytest.approx(0.02)
    with pytest.raises(DataError, match=r"tiles.mbtiles does not cover the region: missing East \(0.1 km², 6%\)"):
        check_coverage(b, box(X0 - 5000, Y0 - 5000, X0 + 1940, Y0 + 5000), margin_m=100, source="tiles.mbtiles")


def test_margin_not_covered_warns(caplog):
    b = gpd.GeoDataFrame({"name": ["A"]}, geometry=[NORD], crs="EPSG:25833")
    extent = box(X0 - 100, Y0 - 5000, X0 + 5000, Y0 + 5000)  # only 100 m of margin to the west
    with caplog.at_level(logging.WARNING):
        out = check_coverage(b, extent, margin_m=1000, source="test.gpkg")
    assert "west" in caplog.text
    assert out["region_missing_km2"] == 0
    # west strip 900 m × 1000 m plus the parts of two quarter circles (r = 1 km) west of x = -100 m:
    # 2 × ∫_{-1}^{-0.1} √(1-x²) dx = 2 × 0.6856 km²
    assert out["margin_missing_km2"] == pytest.approx(0.9 + 2 * 0.6856, rel=0.01)


def test_layer_without_crs_needs_override(tmp_path):
    cfg, data = write_tiny_region(tmp_path)
    shp = data / "lsg.shp"
    gpd.GeoDataFrame({"TYP": ["LSG"]}, geometry=[box(X0, Y0, X0 + 500, Y0 + 500)]).to_file(shp)
    extra = "  files:\n    - {layer: protected_areas, path: lsg.shp, class_field: TYP}\n"
    cfg.write_text(cfg.read_text() + extra)
    with pytest.raises(DataError, match=r"lsg.shp has no CRS. Add 'crs: EPSG:xxxx'"):
        build_layers(load_region(cfg), data)
    cfg.write_text(cfg.read_text().replace("class_field: TYP}", "class_field: TYP, crs: 'EPSG:25833'}"))
    ls = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    pa = ls["protected_areas"]
    assert "LSG" in set(pa[pa["source"] == "lsg.shp"]["type"])
    assert pa[pa["source"] == "lsg.shp"].geometry.area.iloc[0] == pytest.approx(250_000)


def test_not_a_gis_file(tmp_path):
    cfg, data = write_tiny_region(tmp_path)
    (data / "junk.gpkg").write_text("this is not a GeoPackage")
    cfg.write_text(cfg.read_text() + "  files:\n    - {layer: protected_areas, path: junk.gpkg, value: LSG}\n")
    with pytest.raises(DataError, match="junk.gpkg: not a readable GIS file"):
        build_layers(load_region(cfg), data)


def test_empty_required_layer(tmp_path):
    only_building = [(box(X0 + 200, Y0 + 100, X0 + 215, Y0 + 112), {"building": "house"})]
    cfg, data = write_tiny_region(tmp_path, only_building)
    with pytest.raises(DataError, match="Layer landcover is empty"):
        build_layers(load_region(cfg), data)


def test_online_failure_names_what_was_tried(tmp_path, monkeypatch):
    import osmnx as ox

    def offline(*a, **k):
        raise ConnectionError("no network")

    monkeypatch.setattr(ox, "geocode_to_gdf", offline)
    monkeypatch.delenv("LANDUSE_DATA", raising=False)
    cfg, _ = write_tiny_region(tmp_path)
    with pytest.raises(DataError, match=r"Tried: --data DIR; \$LANDUSE_DATA \(not set\)"):
        build_layers(load_region(cfg), None)


def test_rasters_in_the_store_move_with_it(tmp_path):
    import shutil

    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    cfg, data = write_tiny_region(tmp_path)
    with rasterio.open(data / "soil.tif", "w", driver="GTiff", height=10, width=10, count=1, dtype="float32",
                       crs="EPSG:25833", transform=from_origin(X0, Y0 + 2000, 250, 250)) as d:
        d.write(np.full((10, 10), 120, dtype="float32"), 1)
    cfg.write_text(cfg.read_text() + "  rasters:\n    nfk: {path: soil.tif, unit: mm}\n")
    layer_store(cfg, data, layers_dir=tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = read_layers(tmp_path / "b" / "tiny.gpkg")
    assert moved.rasters["nfk"] == (tmp_path / "b" / "tiny_rasters" / "nfk.tif").resolve()
    with rasterio.open(moved.rasters["nfk"]) as ds:
        assert ds.crs.to_epsg() == 25833 and np.nanmax(ds.read(1)) == 120
    assert moved.manifest["rasters"]["nfk"]["unit"] == "mm"


def test_osm_extract_source(tmp_path, tiny_layers):
    cfg, data = write_tiny_region(tmp_path)
    cfg.write_text(cfg.read_text().replace("type: osm_xml", "type: osm_file"))
    ls = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    for name in LAYER_NAMES:
        assert len(ls[name]) == len(tiny_layers[name]), name
    assert ls.manifest["sources"][1]["type"] == "osm_file"


def test_raster_that_misses_the_region_is_skipped_with_a_note(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    cfg, data = write_tiny_region(tmp_path, extra_yaml=(
        "  rasters:\n"
        "    far: {path: far.tif, unit: mm}\n"
        "    half: {path: half.tif, unit: mm}\n"))
    for name, x0 in (("far", X0 + 500_000), ("half", X0 - 500)):
        grid = np.full((300, 400), 7.0, dtype="float32")
        if name == "half":
            grid[:, 150:] = np.nan  # data west of X0 + 1000 only
        with rasterio.open(data / f"{name}.tif", "w", driver="GTiff", height=300, width=400, count=1,
                           dtype="float32", crs="EPSG:25833", transform=from_origin(x0, Y0 + 2500, 10, 10),
                           nodata=np.nan) as dst:
            dst.write(grid, 1)
    layerset = build_layers(load_region(cfg), data, raster_dir=tmp_path / "rasters")
    assert "far" not in layerset.rasters and "half" in layerset.rasters
    notes = layerset.manifest["notes"]
    assert any(n.startswith("raster far (far.tif) has no data over the region") for n in notes)
    # data west of X0 + 1000 m: half of the region (X0 … X0 + 2000 m)
    assert any(n.startswith("raster half (half.tif) covers 50% of the region") for n in notes)


def test_conform_keeps_polygons_of_collections_and_counts_the_rest(caplog):
    from shapely.geometry import GeometryCollection, LineString, Point

    from landuse.layers import conform

    gdf = gpd.GeoDataFrame({"class": ["arable", "forest", "water"]}, geometry=[
        GeometryCollection([box(X0, Y0, X0 + 100, Y0 + 100), LineString([(X0, Y0), (X0 + 50, Y0)])]),
        Point(X0, Y0), box(X0 + 200, Y0, X0 + 300, Y0 + 100)], crs="EPSG:25833")
    with caplog.at_level(logging.WARNING):
        out = conform(gdf, "landcover", "test")
    assert sorted(out["class"]) == ["arable", "water"]
    assert out.geometry.area.sum() == pytest.approx(20_000)  # the collection's 1 ha square kept
    assert "1 geometry collections: their polygon parts kept" in caplog.text
    assert "1 features of another geometry type dropped (Point 1)" in caplog.text


def test_data_gaps_say_what_is_missing_and_what_it_means():
    from landuse.layers import data_gaps

    empty = {name: conform(gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS), name, "t") for name in SCHEMA}
    notes = data_gaps(empty)
    assert sum(n.startswith("layer ") for n in notes) == 8  # every optional layer but landcover, roads, boundaries
    assert any("existing_plants is empty" in n and "no repowering" in n for n in notes)
    nsg_only = conform(gpd.GeoDataFrame({"type": ["NSG"]}, geometry=[box(0, 0, 10, 10)], crs=WORKING_CRS),
                       "protected_areas", "t")
    lines = conform(gpd.GeoDataFrame({"class": ["line"], "voltage_v": [380000.0]},
                                     geometry=[LineString([(0, 0), (10, 0)])], crs=WORKING_CRS), "power_lines", "t")
    notes = data_gaps({**empty, "protected_areas": nsg_only, "power_lines": lines})
    gaps = [n for n in notes if n.startswith("protected_areas:")]
    assert len(gaps) == 3 and "39 %" in gaps[0]  # LSG, FFH, SPA
    assert any("110 kV" in n for n in notes)
    assert not any("power_lines is empty" in n for n in notes)


def test_a_reused_store_reads_each_layer_when_first_used(tmp_path, monkeypatch):
    import copy
    import shutil

    import pyogrio

    import landuse.layers
    from landuse.errors import DataError

    cfg, data = write_tiny_region(tmp_path)
    built, _ = layer_store(cfg, data, layers_dir=tmp_path / "layers")
    read = []
    real = landuse.layers.read_vector
    monkeypatch.setattr(landuse.layers, "read_vector", lambda path, layer=None, **kw: read.append(layer) or
                        real(path, layer=layer, **kw))
    store, reused = layer_store(cfg, data, layers_dir=tmp_path / "layers")
    assert reused and read == []
    assert store["boundaries"]["name"].tolist() == ["Nordheim", "Südheim"] and read == ["boundaries"]
    store["boundaries"]
    assert read == ["boundaries"]  # read once
    assert sorted(store.layers) == sorted(LAYER_NAMES) and len(store.layers) == len(LAYER_NAMES)
    assert len(store["roads"]) == len(built["roads"]) and read == ["boundaries", "roads"]
    assert len(copy.deepcopy(store.layers)["roads"]) == len(built["roads"])
    # a store without a canonical layer fails when it is opened, naming the layer
    broken = tmp_path / "broken.gpkg"
    shutil.copy(tmp_path / "layers" / "tiny.gpkg", broken)
    for name in LAYER_NAMES:
        if name != "water_bodies":
            pyogrio.write_dataframe(read_layers(tmp_path / "layers" / "tiny.gpkg")[name], tmp_path / "part.gpkg",
                                   layer=name, driver="GPKG")
    with pytest.raises(DataError, match="part.gpkg.*water_bodies"):
        read_layers(tmp_path / "part.gpkg")
    # a store replaced under a running set is not read into it
    later = read_layers(broken)
    broken.write_bytes(broken.read_bytes() + b"\0")
    with pytest.raises(DataError, match="changed or removed"):
        later["roads"]
