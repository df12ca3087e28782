"""Parcel model on hand-made geometries with known answers."""

import copy
import logging

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from conftest import X0, Y0, tiny_features, write_tiny_region
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from landuse.config import load_region
from landuse.errors import DataError
from landuse.layers import build_layers
from landuse.parcels import (
    build_parcels,
    derive_parcels,
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
    # the 1800 m × 800 m field: split by the track (x = 1000, 3 m wide) and the border (y = 1000)
    assert len(arable) == 4
    assert sorted(arable["municipality"]) == ["Nordheim", "Nordheim", "Südheim", "Südheim"]
    assert arable["area_ha"].to_numpy() == pytest.approx([898.5 * 400 / 1e4] * 4, rel=1e-5)  # OSM XML keeps ~1 mm
    assert arable.geometry.area.sum() / 1e4 == pytest.approx((1800 - 3) * 800 / 1e4)
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
    sw = _at(model, 500, 800)  # arable, x 100…998.5, y 600…1000
    assert sw["dist_motorway_m"] == pytest.approx(150, abs=1)  # motorway axis at y = 450
    assert sw["dist_settlement_m"] == pytest.approx(250, abs=1)  # residential ends at y = 350
    assert sw["dist_forest_m"] == pytest.approx(200, abs=1)  # forest in the margin ends at x = -100
    assert sw["dist_minor_road_m"] == pytest.approx(1.5, abs=0.01)  # the track's axis at x = 1000
    assert sw["dist_main_railway_m"] == pytest.approx(1450 - 1000, abs=1)
    assert sw["dist_power_line_m"] == pytest.approx(1980 - 1000, abs=1)
    assert sw["dist_navigation_aid_m"] == pytest.approx(np.hypot(2600 - 998.5, 600 + 600), abs=1)
    assert sw["dist_wind_turbine_m"] == pytest.approx(np.hypot(2500 - 998.5, 600 - 200), abs=1)


def test_house_across_the_border_counts(tiny_layers, model):
    ne = _at(model, 1500, 1200)  # arable, x 1001.5…1900, y 1000…1400
    # the house 300 m east of the border (x 2300…2312, y 1500…1510), a single outer-area building
    assert ne["dist_single_building_m"] == pytest.approx(np.hypot(400, 100), abs=1)
    assert np.isnan(ne["dist_building_group_m"])  # no group of five anywhere
    without = copy.copy(tiny_layers)
    without.layers = dict(tiny_layers.layers)
    b = tiny_layers["buildings"]
    without.layers["buildings"] = b[b.geometry.centroid.x < X0 + 2000]
    again = parcel_attributes(model[["class", "subclass", "ags", "municipality", "geometry"]], without)
    assert np.isnan(again.loc[ne.name, "dist_single_building_m"])  # the house inside is in a settlement


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
    assert wood["protected_NSG_share"] == pytest.approx(4 / 31, rel=1e-6)  # 200 m × 200 m reserve
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
