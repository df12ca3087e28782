"""Parcel model on hand-made geometries with known answers."""

import copy
import dataclasses
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from conftest import X0, Y0, tiny_features, write_tiny_region
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from landuse.config import load_region
from landuse.errors import DataError
from landuse.layers import build_layers
from landuse.parcels import (
    PRECISION_M,
    build_parcels,
    building_groups,
    derive_parcels,
    dwelling_mask,
    layer_reach_m,
    parcel_attributes,
    raster_statistics,
    waterway_length,
)


@pytest.fixture(scope="module")
def model(tiny_layers):
    return build_parcels(tiny_layers)


def _at(model, x, y):
    """The parcel containing the point (x, y) relative to the region's origin."""
    hit = model[model.contains(gpd.points_from_xy([X0 + x], [Y0 + y])[0])]
    assert len(hit) == 1, f"{len(hit)} parcels at ({x}, {y})"
    return hit.iloc[0]


def test_field_split_by_track_and_border(model):
    arable = model[model["class"] == "arable"]
    # the 1800 m × 800 m field: split by the track (x = 1000, 4 m wide) and the border (y = 1000)
    assert len(arable) == 4
    assert sorted(arable["municipality"]) == ["Nordheim", "Nordheim", "Südheim", "Südheim"]
    assert arable["area_ha"].to_numpy() == pytest.approx([898 * 400 / 1e4] * 4, rel=1e-5)  # OSM XML keeps ~1 mm
    assert arable.geometry.area.sum() / 1e4 == pytest.approx((1800 - 4) * 800 / 1e4)
    assert set(arable["ags"]) == {"14999001", "14999002"}
    assert arable["candidate"].all()


def test_context_parcels_are_not_candidates(model):
    residential = _at(model, 300, 200)
    assert residential["class"] == "residential" and not residential["candidate"]
    pond = _at(model, 1800, 1600)
    assert pond["class"] == "water" and not pond["candidate"]
    wood = _at(model, 1150, 1550)
    # the pond (100 m × 100 m) is cut out of the wood, which is 800 m × 400 m
    assert wood["class"] == "forest" and wood["area_ha"] == pytest.approx(32 - 1, rel=1e-5)  # OSM XML keeps ~1 mm


def test_distances_by_hand(model):
    sw = _at(model, 500, 800)  # arable, x 100…998, y 600…1000
    assert sw["dist_motorway_m"] == pytest.approx(150, abs=1)  # motorway axis at y = 450
    assert sw["dist_settlement_m"] == pytest.approx(250, abs=1)  # residential ends at y = 350
    assert sw["dist_forest_m"] == pytest.approx(200, abs=1)  # forest in the margin ends at x = -100
    assert sw["dist_minor_road_m"] == pytest.approx(2, abs=0.01)  # the track's axis at x = 1000
    assert sw["dist_main_railway_m"] == pytest.approx(1450 - 1000, abs=1)
    assert sw["dist_power_line_m"] == pytest.approx(1980 - 1000, abs=1)
    assert sw["dist_navigation_aid_m"] == pytest.approx(np.hypot(2600 - 998, 600 + 600), abs=1)
    assert sw["dist_wind_turbine_m"] == pytest.approx(np.hypot(2500 - 998, 600 - 200), abs=1)


def test_house_across_the_border_counts(tiny_layers, model):
    ne = _at(model, 1500, 1200)  # arable, x 1002…1900, y 1000…1400
    # the house 300 m east of the border (x 2300…2312, y 1500…1510), a single outer-area building
    assert ne["dist_single_building_m"] == pytest.approx(np.hypot(400, 100), abs=1)
    assert ne["dist_building_group_m"] == 3000  # no group of five within the layer reach (3,000 m margin)
    without = copy.copy(tiny_layers)
    without.layers = dict(tiny_layers.layers)
    b = tiny_layers["buildings"]
    without.layers["buildings"] = b[b.geometry.centroid.x < X0 + 2000]
    again = parcel_attributes(model[["class", "subclass", "ags", "municipality", "geometry"]], without)
    # the house inside is in a settlement: no single building within the layer's reach (distances read "at least")
    assert again.loc[ne.name, "dist_single_building_m"] == layer_reach_m(without, "buildings") == 3000


def test_siting_attributes_only_for_site_classes(tiny_layers, model):
    base = model[["class", "subclass", "ags", "municipality", "geometry"]]
    sites = parcel_attributes(base, tiny_layers, site_classes=["arable", "forest"])
    is_site = base["class"].isin(["arable", "forest"])
    assert sites["site"].to_numpy().tolist() == is_site.to_numpy().tolist() and 0 < is_site.sum() < len(base)
    assert model["site"].all()  # without site classes every parcel is a site
    siting = [c for c in model.columns if c.startswith(("dist_", "protected_")) or c == "waterway_length_m"]
    assert len(siting) >= 18 and set(siting) <= set(sites.columns)
    # the sites' values are the ones of the full model, to the last digit; the others are empty
    assert sites.loc[is_site, siting].equals(model.loc[is_site, siting])
    assert sites.loc[~is_site, siting].isna().all().all()
    # the shape measures stay for every parcel (the pond: 1 ha, a 100 m square)
    pond = _at(sites, 1800, 1600)
    assert not pond["site"] and np.isnan(pond["dist_settlement_m"])
    assert pond["area_ha"] == pytest.approx(1.0, rel=1e-5) and pond["width_m"] == pytest.approx(50, rel=1e-4)


def test_building_group_of_five(tmp_path):
    houses = [(box(X0 + 1300 + 30 * k, Y0 - 300, X0 + 1312 + 30 * k, Y0 - 290), {"building": "house"})
              for k in range(5)]
    cfg, data = write_tiny_region(tmp_path, tiny_features() + houses)
    layers = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    model = build_parcels(layers)
    se = _at(model, 1500, 800)  # arable, y 600…1000; the hamlet is 300 m south of the region
    assert se["dist_building_group_m"] == pytest.approx(600 + 290, abs=1)


def test_protected_share(model):
    wood = _at(model, 1150, 1550)
    assert wood["protected_NSG_share"] == pytest.approx(4 / 31, rel=1e-5)  # 200 m × 200 m reserve; 1 mm vertex grid
    assert wood["protected_LSG_share"] == 0
    assert model["protected_LSG_share"].max() == 0  # the LSG lies south of the region


def test_ids_stable_and_order_independent(tiny_layers, model):
    again = build_parcels(tiny_layers)
    assert list(again.index) == list(model.index)
    shuffled = copy.copy(tiny_layers)
    shuffled.layers = dict(tiny_layers.layers)
    shuffled.layers["landcover"] = tiny_layers["landcover"].iloc[::-1].reset_index(drop=True)
    assert sorted(build_parcels(shuffled).index) == sorted(model.index)
    assert model.index.is_unique and model.index.str.match(r"^1499900[12]-[0-9a-f]{10}$").all()


def test_raster_mean_over_a_parcel(tiny_layers, tmp_path):
    # a raster whose value is the cell centre's x (m) relative to the region's origin, 10 m cells
    path = tmp_path / "x.tif"
    cols = np.arange(-50, 350) * 10 + 5.0
    data = np.tile(cols, (300, 1)).astype("float32")
    data[:, cols > 1900] = np.nan  # no data east of x = 1900
    with rasterio.open(path, "w", driver="GTiff", height=300, width=400, count=1, dtype="float32",
                       crs="EPSG:25833", transform=from_origin(X0 - 500, Y0 + 2500, 10, 10), nodata=np.nan) as d:
        d.write(data, 1)
    parcels = derive_parcels(tiny_layers)
    stats = raster_statistics(parcels, path, "x")
    meadow = parcels.contains(gpd.points_from_xy([X0 + 500], [Y0 + 1700])[0]).to_numpy()
    row = stats[meadow].iloc[0]  # meadow x 100…900: centres 105…895
    assert row["x_mean"] == pytest.approx(500) and row["x_min"] == 105 and row["x_max"] == 895
    assert row["x_nodata_share"] == 0
    wood = parcels.contains(gpd.points_from_xy([X0 + 1150], [Y0 + 1550])[0]).to_numpy()
    assert stats[wood].iloc[0]["x_max"] == 1895  # cells east of 1900 are nodata…
    assert stats[wood].iloc[0]["x_nodata_share"] == 0  # …but none lies inside the wood (ends at 1900)


def test_waterway_length_along_and_inside():
    parcels = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs="EPSG:25833")
    ww = gpd.GeoDataFrame({"tunnel": [False, False, True, False]}, geometry=[
        LineString([(20, 105), (80, 105)]),   # along the edge, 5 m outside: 60 m
        LineString([(50, 20), (50, 80)]),     # inside: 60 m
        LineString([(10, 50), (90, 50)]),     # culvert: not counted
        LineString([(20, 130), (80, 130)]),   # 30 m away: not counted
    ], crs="EPSG:25833")
    assert waterway_length(parcels, ww, 10)[0] == pytest.approx(120)


def _parcel_file_region(tmp_path, frame, extra=""):
    cfg, data = write_tiny_region(tmp_path)
    frame.to_file(data / "flurstuecke.gpkg")
    cfg.write_text(cfg.read_text() + f"  parcels: {{path: flurstuecke.gpkg, id_field: fsk{extra}}}\n")
    region = load_region(cfg)
    return region, data, build_layers(region, data, raster_dir=tmp_path / "r")


def test_parcel_file_reprojected_overlaps_flagged(tmp_path, caplog):
    frame = gpd.GeoDataFrame({"fsk": ["A", "B", "C"]}, geometry=[
        box(X0 + 100, Y0 + 600, X0 + 500, Y0 + 900),
        box(X0 + 400, Y0 + 600, X0 + 800, Y0 + 900),   # overlaps A by 100 m × 300 m
        box(X0 + 1200, Y0 + 800, X0 + 1400, Y0 + 1200),  # crosses the border: split in two
    ], crs="EPSG:25833").to_crs("EPSG:4326")
    region, data, layers = _parcel_file_region(tmp_path, frame)
    with caplog.at_level(logging.WARNING):
        model = build_parcels(layers, region.sources["parcels"], data)
    assert "1 overlapping parcel pairs (3.0 ha overlap)" in caplog.text
    assert model.loc["A", "overlaps"] and model.loc["B", "overlaps"]
    assert model.loc["A", "area_ha"] == pytest.approx(12, rel=1e-4)  # reprojected back to metres
    assert model.loc["A", "class"] == "arable"
    c = model[model.index.str.startswith("C")]
    assert sorted(c["municipality"]) == ["Nordheim", "Südheim"]
    assert c["area_ha"].sum() == pytest.approx(8, rel=1e-4)


def test_parcel_file_without_crs(tmp_path):
    frame = gpd.GeoDataFrame({"fsk": ["A"]}, geometry=[box(X0 + 100, Y0 + 600, X0 + 500, Y0 + 900)])
    with pytest.raises(DataError, match="flurstuecke.gpkg has no CRS"):
        region, data, layers = _parcel_file_region(tmp_path, frame)
        build_parcels(layers, region.sources["parcels"], data)


def test_municipality_without_open_land_warns(tiny_layers, caplog):
    bare = copy.copy(tiny_layers)
    bare.layers = dict(tiny_layers.layers)
    lc = tiny_layers["landcover"]
    bare.layers["landcover"] = lc[lc.geometry.centroid.y < Y0 + 400]  # only Südheim's built-up land
    with caplog.at_level(logging.WARNING):
        build_parcels(bare)
    assert "Nordheim has no open land" in caplog.text


def test_dem_gives_elevation_and_slope(tiny_layers, tmp_path):
    # a plane rising 10 m per 100 m to the east: slope atan(0.1) = 5.71°, elevation = 0.1 × x
    cols = np.arange(-50, 350) * 10 + 5.0
    dem = np.tile(0.1 * cols, (300, 1)).astype("float32")
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", height=300, width=400, count=1, dtype="float32",
                       crs="EPSG:25833", transform=from_origin(X0 - 500, Y0 + 2500, 10, 10), nodata=np.nan) as d:
        d.write(dem, 1)
    layers = copy.copy(tiny_layers)
    layers.rasters = {"dem": path}
    model = build_parcels(layers)
    meadow = _at(model, 500, 1700)  # x 100…900: mean elevation 50 m
    assert meadow["dem_mean"] == pytest.approx(50.0)
    assert meadow["slope_deg_mean"] == pytest.approx(np.degrees(np.arctan(0.1)), abs=0.01)


def test_parcel_file_duplicate_ids_and_missing_id_field(tmp_path):
    frame = gpd.GeoDataFrame({"fsk": ["A", "A", "B", "B", "C"]},
                             geometry=[box(X0 + 100 + 100 * i, Y0 + 600, X0 + 190 + 100 * i, Y0 + 900)
                                       for i in range(5)], crs="EPSG:25833")
    region, data, layers = _parcel_file_region(tmp_path / "dup", frame)
    with pytest.raises(DataError) as err:
        build_parcels(layers, region.sources["parcels"], data)
    assert str(err.value) == (f"{data / 'flurstuecke.gpkg'}: 2 ids in 'fsk' are given to more than one parcel "
                              "(e.g. 'A', 'B'); make them unique, or drop id_field to use stable ids made from the "
                              "geometry.")
    frame = frame.rename(columns={"fsk": "flurstueck"})
    region, data, layers = _parcel_file_region(tmp_path / "missing", frame)
    with pytest.raises(DataError, match=r"flurstuecke.gpkg: id_field 'fsk' is not a column of the file; "
                                        r"columns: flurstueck\."):
        build_parcels(layers, region.sources["parcels"], data)


# --------------------------------------------------------------------------------------------
# parcels that add up (issue 13, item 10)


def _overlap_m2(geoms) -> float:
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    return float(shapely.area(shapely.intersection(geoms[i[keep]], geoms[j[keep]])).sum())


def _repeated_vertices(geoms) -> int:
    """Parcels with two vertices closer than 1e-8 m (QGIS's duplicate-node test)."""
    return int((shapely.get_num_coordinates(shapely.remove_repeated_points(geoms, 1e-8))
                < shapely.get_num_coordinates(geoms)).sum())


def test_parcels_tile_the_land(model):
    geoms = model.geometry.values
    # Nordheim and Südheim are 200 ha each; corridors, slivers and unmapped land are parcels too
    assert model["area_ha"].sum() == pytest.approx(400, abs=0.01)
    for name in ("Nordheim", "Südheim"):
        assert model.loc[model["municipality"] == name, "area_ha"].sum() == pytest.approx(200, abs=0.01)
    assert _overlap_m2(geoms) < 0.1 and shapely.is_valid(geoms).all() and _repeated_vertices(geoms) == 0
    corridor = model[model["subclass"] == "corridor"]
    # motorway 2000 × 30 m in Südheim, rail 2000 × 6 m, track 1450 × 4 m less the crossing, stream 1400 × 3 m
    assert corridor.loc[corridor["class"] == "transport", "area_ha"].sum() == pytest.approx(
        (2000 * 30 + 2000 * 6 + 1450 * 4 - 4 * 6) / 1e4, rel=2e-3)
    assert corridor.loc[corridor["class"] == "water", "area_ha"].sum() == pytest.approx(1400 * 3 / 1e4, rel=2e-3)
    unmapped = model[model["subclass"] == "unmapped"]
    assert not unmapped["candidate"].any() and not corridor["candidate"].any()
    # Südheim: 200 ha less its field part (1796 × 400 m), the motorway, the track's 500 m and the
    # residential and industrial blocks
    assert unmapped.loc[unmapped["municipality"] == "Südheim", "area_ha"].sum() == pytest.approx(
        200 - 71.84 - 6 - 0.2 - 15 - 2, abs=0.02)


def test_overlapping_land_cover_counted_once(tmp_path):
    park = box(X0 + 100, Y0 + 1500, X0 + 900, Y0 + 1900)
    extra = [
        (park, {"leisure": "park"}),  # the meadow's twin with another use: OSM maps both
        (box(X0 + 200, Y0 + 1600, X0 + 300, Y0 + 1700), {"leisure": "pitch"}),  # a pitch in the park
        (box(X0 + 1100, Y0 + 600, X0 + 1900, Y0 + 1400), {"landuse": "farmland"}),  # a duplicate field half
    ]
    cfg, data = write_tiny_region(tmp_path, tiny_features() + extra)
    layers = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    model = build_parcels(layers)
    assert _overlap_m2(model.geometry.values) < 0.1
    assert model["area_ha"].sum() == pytest.approx(400, abs=0.01)
    pitch = _at(model, 250, 1650)
    assert pitch["subclass"] == "pitch" and pitch["area_ha"] == pytest.approx(1.0, rel=1e-4)  # the smaller wins
    park_parcel = _at(model, 500, 1800)
    assert park_parcel["class"] == "other"  # special use beats grassland (CLASS_PRIORITY)
    assert park_parcel["area_ha"] == pytest.approx(32 - 1, rel=1e-4)


def test_overlapping_borders_do_not_double_parcels():
    from landuse.stats import municipal_geometries

    b = gpd.GeoDataFrame({"ags": ["14999002", "14999001"]},
                         geometry=[box(0, 0, 1000, 1000), box(900, 0, 2000, 1000)], crs="EPSG:25833")
    geoms = municipal_geometries(b)
    # the 100 m × 1000 m overlap goes to the lower AGS (14999001, the second row)
    assert shapely.area(geoms).tolist() == pytest.approx([90 * 1e4, 110 * 1e4])
    assert _overlap_m2(geoms) == 0


def test_parts_inside_a_municipality_are_kept_and_parts_across_borders_cut():
    from landuse.parcels import _assign_municipality, _polygon_parts

    b = gpd.GeoDataFrame({"ags": ["14999001", "14999002"], "name": ["West", "East"], "group": ["g", "g"]},
                         geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], crs="EPSG:25833")
    # wholly in West; across the border (60 ha west, 40 ha east); touching the border from inside East
    inside, across, touching = box(100, 100, 300, 400), box(400, 0, 1400, 1000), box(1000, 500, 1200, 700)
    parts = gpd.GeoDataFrame({"class": ["arable", "forest", "grassland"]}, geometry=[inside, across, touching],
                             crs="EPSG:25833")
    out = _polygon_parts(_assign_municipality(parts, b))  # as the derivation does: no line where one touches
    got = sorted(zip(out["class"], out["municipality"], shapely.area(out.geometry.values).round(3), strict=True))
    assert got == [("arable", "West", 60_000.0), ("forest", "East", 400_000.0), ("forest", "West", 600_000.0),
                   ("grassland", "East", 40_000.0)]
    # a part inside is the part itself, not an overlay's copy of it
    kept = out.geometry.values[out["class"].eq("arable").to_numpy()][0]
    assert shapely.equals_exact(kept, inside, tolerance=0)
    assert out.loc[out["municipality"].eq("East"), "ags"].unique().tolist() == ["14999002"]


@pytest.fixture(scope="module")
def real_region_layers(real_data, tmp_path_factory):
    """The default region's layer store: the checkout's ``layers/`` when it is up to date (read
    only), else built once in a temporary folder."""
    import json

    from conftest import REPO

    from landuse.layers import input_fingerprint, layer_store, read_layers

    region = load_region("leipzig-wurzen")
    gpkg = REPO / "layers" / "leipzig-wurzen.gpkg"
    manifest = gpkg.with_suffix(".manifest.json")
    if gpkg.exists() and manifest.exists():
        stored = json.loads(manifest.read_text(encoding="utf-8"))
        fresh = json.loads(json.dumps(input_fingerprint(region, real_data, stored.get("margin_m", 0))))
        if stored.get("fingerprint") == fresh:
            return read_layers(gpkg, manifest)
    return layer_store(region, real_data, layers_dir=tmp_path_factory.mktemp("lw-layers"))[0]


def test_real_region_parcels_add_up(real_region_layers):
    from landuse.stats import municipal_geometries

    parcels = derive_parcels(real_region_layers)
    geoms = parcels.geometry.values
    land_ha = shapely.area(municipal_geometries(real_region_layers["boundaries"])).sum() / 1e4
    # VG250 (s200), overlaps of neighbours counted once and kept by the lower AGS, also outside the region
    # (15.5 ha of the 57,834 ha go to neighbours outside the region)
    assert land_ha == pytest.approx(57_818.5, abs=5)
    # every hectare in one parcel: the sum misses only dust below 1 m² per piece (< 1 ha in all)
    assert shapely.area(geoms).sum() / 1e4 == pytest.approx(land_ha, abs=1.0)
    assert _overlap_m2(geoms) < 200  # m²: T-junctions snapped to the 1 mm grid (was 189 ha)
    assert shapely.is_valid(geoms).all() and _repeated_vertices(geoms) == 0  # was 1,163 parcels
    assert parcels.groupby("ags").apply(lambda g: g.geometry.area.sum() / 1e4).sum() == pytest.approx(land_ha, abs=1)
    cand = parcels[parcels["class"].isin(["arable", "grassland", "forest"])].geometry.area.sum() / 1e4
    assert 33_000 < cand < 36_000  # open land of the region (arable 24,400 ha, forest 7,000, grassland 3,200)


# --------------------------------------------------------------------------------------------
# dwellings (issue 13, item 8)


def _buildings(specs):
    """Buildings as (width, depth, kind, height) boxes in a row, 200 m apart."""
    return gpd.GeoDataFrame(
        {"kind": [k for _, _, k, _ in specs], "height_m": [h for _, _, _, h in specs]},
        geometry=[box(X0 + 200 * n, Y0, X0 + 200 * n + w, Y0 + d) for n, (w, d, _, _) in enumerate(specs)],
        crs="EPSG:25833")


def test_dwellings_from_size_land_use_kind_and_height():
    b = _buildings([
        (8, 5, "yes", 3.66),      # 40 m² garage
        (50, 40, "yes", 7.32),    # 2,000 m² barn in a farmyard
        (12, 10, "yes", 3.66),    # 120 m² house (OpenMapTiles: no use, one storey)
        (12, 10, "yes", 7.32),    # 120 m² house in the farmyard: the farmhouse
        (12, 10, "yes", 2.5),     # 120 m² but 2.5 m high: a carport or shed
        (10, 6, "garage", np.nan),  # tagged as a garage
        (30, 25, "house", np.nan),  # 750 m², tagged as a house: the tag decides
        (12, 10, "yes", np.nan),  # on industrial land
    ])
    farmyard = box(X0 + 150, Y0 - 50, X0 + 700, Y0 + 100)  # holds buildings 1–3
    lc = gpd.GeoDataFrame({"class": ["other", "industrial"], "subclass": ["farmyard", "industrial"]},
                          geometry=[farmyard, box(X0 + 1390, Y0 - 10, X0 + 1420, Y0 + 20)], crs="EPSG:25833")
    is_dwelling, reason = dwelling_mask(b, lc)
    assert is_dwelling.tolist() == [False, False, True, True, False, False, True, False]
    assert reason.tolist() == ["small", "large", "dwelling", "dwelling", "low", "kind_garage", "dwelling",
                               "land_industrial"]


def test_building_groups_hold_only_dwellings(tiny_layers):
    layers = copy.copy(tiny_layers)
    layers.layers = dict(tiny_layers.layers)
    # five buildings 30 m apart south of the region: three houses, a garage and a barn
    b = gpd.GeoDataFrame({"kind": ["yes"] * 5, "height_m": [3.66] * 5}, geometry=[
        box(X0 + 1300 + 30 * k, Y0 - 300, X0 + 1300 + 30 * k + w, Y0 - 300 + d)
        for k, (w, d) in enumerate([(12, 10), (12, 10), (12, 10), (8, 5), (25, 25)])], crs="EPSG:25833")
    b.loc[4, "geometry"] = box(X0 + 1420, Y0 - 300, X0 + 1470, Y0 - 260)  # the barn: 2,000 m²
    layers.layers["buildings"] = b
    groups = building_groups(layers)
    assert len(groups) == 3 and (groups["group_size"] == 3).all()  # not a group of five (SächsBO §84)


def test_islands_in_a_hole_of_the_same_parcel_become_their_own():
    from shapely.geometry import MultiPolygon, Polygon

    from landuse.parcels import _islands_apart

    ring = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(20, 20), (80, 20), (80, 80), (20, 80)]])
    island = box(40, 40, 60, 60)
    apart = box(200, 0, 220, 20)
    gdf = gpd.GeoDataFrame({"class": ["transport", "other"], "ags": "1"},
                           geometry=[MultiPolygon([ring, island, apart]), box(500, 0, 510, 10)], crs="EPSG:25833")
    out = _islands_apart(gdf)
    assert len(out) == 3 and out.geometry.area.sum() == pytest.approx(gdf.geometry.area.sum())
    assert out.geometry.iloc[0].equals(MultiPolygon([ring, apart])) and out.geometry.iloc[2].equals(island)
    assert out["class"].tolist() == ["transport", "other", "transport"]


def test_robust_lengths_match_the_plain_overlay():
    from landuse.parcels import _robust_lengths

    lines = np.array([LineString([(0, 50), (300, 50)]), LineString([(50, -10), (50, 110)])], dtype=object)
    zones = np.array([box(0, 0, 100, 100), box(0, 0, 100, 100)], dtype=object)
    assert _robust_lengths(lines, zones) == pytest.approx([100.0, 100.0], abs=0.02)  # m inside the zone


def test_geojson_of_polygons_and_multipolygons_rasterizes_like_shapely():
    import rasterio.features
    from rasterio.transform import from_origin

    from landuse.parcels import geojson_polygons

    ring = box(0, 0, 400, 400).difference(box(100, 100, 300, 300))  # a polygon with a hole
    multi = shapely.MultiPolygon([box(500, 0, 700, 200), box(800, 0, 900, 400)])
    transform = from_origin(0, 400, 10, 10)
    for geoms in (np.array([ring]), np.array([ring, multi])):
        shapes = geojson_polygons(geoms)
        # a mix comes out as multipolygons throughout (shapely's ragged arrays)
        assert {s["type"] for s in shapes} == ({"Polygon"} if len(geoms) == 1 else {"MultiPolygon"})
        ours = rasterio.features.rasterize(zip(shapes, range(1, len(geoms) + 1), strict=True), out_shape=(40, 90),
                                           transform=transform)
        theirs = rasterio.features.rasterize(zip(geoms, range(1, len(geoms) + 1), strict=True), out_shape=(40, 90),
                                             transform=transform)
        assert (ours == theirs).all()
        assert (ours == 1).sum() == (400 * 400 - 200 * 200) / 100  # cells of 100 m², the hole left out


def test_nearest_distance_is_the_exact_distance_to_the_nearest_target():
    from landuse.parcels import nearest_distance

    rng = np.random.default_rng(7)
    forest = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
                             [[(300, 300), (700, 300), (700, 700), (300, 700)]])
    road = shapely.LineString(rng.uniform(-2000, 3000, size=(40, 2)))
    mast = shapely.Point(2500, -800)
    targets = np.array([forest, road, mast])
    parcels = np.array([
        box(400, 400, 500, 500),  # in the forest's clearing: apart from it, 100 m to its inner ring
        box(100, 100, 120, 120),  # inside the forest
        box(-50, -50, 1050, 1050),  # holds the forest
        *shapely.buffer(shapely.points(rng.uniform(-3000, 4000, size=(60, 2))), 30, quad_segs=3),
        shapely.Polygon(),
    ])
    got = nearest_distance(parcels, targets)
    expected = shapely.distance(parcels[:, None], targets[None, :]).min(axis=1)
    assert got[:-1] == pytest.approx(expected[:-1], abs=1e-9)
    assert got[1] == got[2] == 0
    assert got[0] == pytest.approx(min(100, shapely.distance(parcels[0], road)))
    assert np.isnan(got[-1])  # an empty parcel has no distance
    assert np.isnan(nearest_distance(parcels, np.array([], dtype=object))).all()
    # a bounded search: the same distances within the bound, NaN beyond it
    near = expected <= 150
    assert 0 < near[:-1].sum() < len(parcels) - 1
    bounded = nearest_distance(parcels, targets, max_distance=150)
    assert bounded[near] == pytest.approx(expected[near], abs=1e-9)
    assert np.isnan(bounded[~near]).all()


def _with_landcover(layers, extra: list[tuple[str, shapely.Geometry]]):
    lc = layers["landcover"]
    pond = lc[lc["class"].eq("water")].iloc[[0] * len(extra)].reset_index(drop=True)
    pond["class"] = [c for c, _ in extra]
    pond = pond.set_geometry([g for _, g in extra], crs=lc.crs)
    return dataclasses.replace(layers, layers={**layers.layers, "landcover": pd.concat([lc, pond], ignore_index=True)},
                               derived={})


def _by_place(parcels):
    c = shapely.centroid(parcels.geometry.values)
    return parcels.assign(_x=shapely.get_x(c).round(1), _y=shapely.get_y(c).round(1)).sort_values(
        ["class", "subclass", "_x", "_y"]).reset_index(drop=True)


def test_land_cover_in_the_margin_only_leaves_the_parcels_as_they_are(tiny_layers):
    # the derivation skips land cover that reaches no municipality (the region is the square
    # 340000-342000 x 5700000-5702000); what reaches one still cuts what lies below it
    base = _by_place(derive_parcels(tiny_layers))
    margin = _with_landcover(tiny_layers, [("water", box(339400, 5700400, 339700, 5700700)),  # over the margin forest
                                           ("residential", box(342100, 5701000, 342500, 5701400))])
    assert len(tiny_layers["landcover"]) + 2 == len(margin["landcover"])
    again = _by_place(derive_parcels(margin))
    assert len(again) == len(base)
    assert shapely.equals_exact(again.geometry.values, base.geometry.values, tolerance=0).all()
    # a lake across the eastern border takes 2 ha (100 m x 200 m) of the arable field inside it
    lake = _with_landcover(tiny_layers, [("water", box(341800, 5701000, 342200, 5701200))])
    cut = derive_parcels(lake)
    def arable_ha(p):
        return p.geometry.area[p["class"].eq("arable")].sum() / 1e4

    assert arable_ha(base) - arable_ha(cut) == pytest.approx(2.0, abs=1e-4)
    inside = shapely.area(shapely.intersection(cut.geometry.values[cut["class"].eq("water").to_numpy()],
                                               box(341800, 5701000, 342000, 5701200))).sum() / 1e4
    assert inside == pytest.approx(4.0, abs=1e-4)  # the lake's part inside the region, none of it outside


def test_parcels_are_on_the_grid_but_carry_no_fixed_precision_model(tiny_layers):
    # GEOS overlays honour a geometry's precision model: parcels built in this run must be cut
    # like parcels read back from the cache (WKB drops the model), in floating point
    parcels = derive_parcels(tiny_layers)
    geoms = np.asarray(parcels.geometry.values)
    assert len(geoms) > 5 and (shapely.get_precision(geoms) == 0).all()
    mm = shapely.get_coordinates(geoms) / PRECISION_M
    assert np.abs(mm - np.round(mm)).max() < 1e-6
    again = shapely.from_wkb(shapely.to_wkb(geoms))
    cutter = shapely.buffer(shapely.points(shapely.get_coordinates(geoms)[::7] + 0.3), 2.7)
    cutter = shapely.union_all(cutter)
    assert (shapely.equals_identical(shapely.difference(geoms, cutter), shapely.difference(again, cutter))).all()
