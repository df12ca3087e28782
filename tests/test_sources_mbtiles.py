"""MBTiles source: tiny tile sets written in code (sqlite3 + mapbox_vector_tile), and the Saxony file."""

from __future__ import annotations

import gzip
import math
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from landuse.errors import DataError
from landuse.sources.mbtiles import data_extent, read_mbtiles, read_tiles
from landuse.sources.omt import canonical_layers, read_openmaptiles

mvt = pytest.importorskip("mapbox_vector_tile")

Z = 14
E = 4096
HALF = math.pi * 6378137.0
UNIT = 2 * HALF / (2**Z * E)  # metres (Mercator) per tile unit
# the z14 tile (XYZ) that holds Bennewitz, east of Leipzig
TX, TY = 8769, 5447
SAXONY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sachsen" / "osm_omt_2021_z14.mbtiles"


def merc(gx: float, gy: float) -> tuple[float, float]:
    """Global pixel (tile units from the top-left of the world, y down) → Web Mercator."""
    return gx * UNIT - HALF, HALF - gy * UNIT


def to_merc(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: np.column_stack(merc(c[:, 0], c[:, 1])))


def to_utm(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([to_merc(geom)], crs="EPSG:3857").to_crs("EPSG:25833").iloc[0]


def write_mbtiles(path: Path, features: dict[str, list[tuple[shapely.Geometry, dict]]], tiles, buffer: float = 256,
                  extra_tiles=()) -> None:
    """Cut features (global pixel coordinates) into the given XYZ tiles as a tiler does.

    Each tile gets the part of each feature inside the tile plus ``buffer`` units; tiles in
    ``extra_tiles`` are stored empty-handed but present.
    """
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name text, value text)")
    con.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
    con.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "pbf"), ("bounds", "12.6,51.3,12.8,51.4")])
    for x, y in list(tiles) + list(extra_tiles):
        clip = box(x * E - buffer, y * E - buffer, (x + 1) * E + buffer, (y + 1) * E + buffer)
        layers = []
        for name, feats in features.items():
            out = []
            for geom, props in feats:
                piece = geom.intersection(clip) if (x, y) in tiles else shapely.Point()
                if piece.is_empty or piece.geom_type.removeprefix("Multi") != geom.geom_type.removeprefix("Multi"):
                    continue
                local = shapely.transform(piece, lambda c, x=x, y=y: c - [x * E, y * E])
                out.append({"geometry": local.wkt, "properties": props})
            if out:
                layers.append({"name": name, "features": out})
        data = mvt.encode(layers, default_options={"y_coord_down": True}) if layers else b""
        con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (Z, x, 2**Z - 1 - y, gzip.compress(data)))
    con.commit()
    con.close()


def area_around(gx0: float, gy0: float, gx1: float, gy1: float) -> shapely.Geometry:
    """A box given in global pixels, as an EPSG:25833 area of interest."""
    return to_utm(box(gx0, gy0, gx1, gy1))


FOUR = [(TX, TY), (TX + 1, TY), (TX, TY + 1), (TX + 1, TY + 1)]
CORNER = ((TX + 1) * E, (TY + 1) * E)  # the point the four tiles share


def test_field_spanning_four_tiles_is_one_polygon(tmp_path):
    cx, cy = CORNER
    field = box(cx - 1500, cy - 1200, cx + 1300, cy + 1700)
    path = tmp_path / "four.mbtiles"
    write_mbtiles(path, {"landcover": [(field, {"class": "farmland", "subclass": "farmland"})]}, FOUR)
    read = read_tiles(path, area_around(cx - 2000, cy - 2000, cx + 2000, cy + 2000))
    assert read.pieces["landcover"] == 4
    lc = read.layers["landcover"]
    assert len(lc) == 1 and lc.geom_type.iloc[0] == "Polygon"
    expected = to_utm(field).area
    assert expected == pytest.approx(2800 * 2900 * UNIT**2 * math.cos(math.radians(51.36)) ** 2, rel=0.01)
    assert lc.area.iloc[0] == pytest.approx(expected, rel=1e-3)
    assert list(lc["class"]) == ["farmland"]


def test_pieces_clipped_short_of_the_edge_still_merge(tmp_path):
    """No tiler buffer and pieces that stop 1 unit (0.24 m on the ground) short of the edges."""
    cx, cy = CORNER
    field = box(cx - 1500, cy - 1200, cx + 1300, cy + 1700)
    gap = shapely.union_all([box(cx - 1, 0, cx + 1, 1e9), box(0, cy - 1, 1e9, cy + 1)])
    path = tmp_path / "gap.mbtiles"
    write_mbtiles(path, {"landcover": [(field.difference(gap), {"class": "farmland", "subclass": "farmland"})],
                         "building": [(box(cx - 40, cy + 100, cx + 30, cy + 140).difference(gap),
                                       {"render_height": 6.0})]}, FOUR, buffer=0)
    read = read_tiles(path, area_around(cx - 2000, cy - 2000, cx + 2000, cy + 2000))
    assert read.pieces["landcover"] == 4 and read.pieces["building"] == 2
    lc, b = read.layers["landcover"], read.layers["building"]
    assert len(lc) == 1 and lc.area.iloc[0] == pytest.approx(to_utm(field).area, rel=1e-3)
    assert len(b) == 1 and b.area.iloc[0] == pytest.approx(to_utm(box(cx - 40, cy + 100, cx + 30, cy + 140)).area,
                                                          rel=0.02)
    assert b["render_height"].iloc[0] == pytest.approx(6.0)


def test_buildings_meeting_inside_a_tile_stay_apart(tmp_path):
    """Terraced houses: only pieces cut at a tile edge are joined, not neighbours sharing a wall."""
    cx, cy = CORNER
    houses = [box(cx - 300, cy - 300, cx - 280, cy - 290), box(cx - 280, cy - 300, cx - 260, cy - 290),
              box(cx - 10, cy - 300, cx + 10, cy - 290)]  # the third straddles the edge x = cx
    path = tmp_path / "houses.mbtiles"
    write_mbtiles(path, {"building": [(h, {"render_height": 9.0}) for h in houses]}, FOUR)
    b = read_tiles(path, area_around(cx - 500, cy - 500, cx + 500, cy + 500)).layers["building"]
    assert len(b) == 3
    assert sorted(b.area) == pytest.approx(sorted(to_utm(h).area for h in houses), rel=0.01)


def test_road_crossing_a_tile_edge_is_one_line(tmp_path):
    cx, cy = CORNER
    road = LineString([(cx - 2500, cy - 1800), (cx - 900, cy - 1500), (cx + 1700, cy - 1350)])  # crosses x = cx
    track = LineString([(cx - 2000, cy - 500), (cx - 2000, cy + 800)])  # crosses y = cy
    path = tmp_path / "road.mbtiles"
    write_mbtiles(path, {"transportation": [(road, {"class": "primary"}), (track, {"class": "track"})]}, FOUR)
    read = read_tiles(path, area_around(cx - 3000, cy - 3000, cx + 3000, cy + 3000))
    assert read.pieces["transportation"] == 4
    tr = read.layers["transportation"]
    assert sorted(tr["class"]) == ["primary", "track"]
    primary = tr[tr["class"] == "primary"]
    assert primary.geom_type.iloc[0] == "LineString"
    assert primary.length.iloc[0] == pytest.approx(to_utm(road).length, rel=1e-3)
    assert primary.length.iloc[0] == pytest.approx(1578, rel=0.01)  # m: 4,232 units × 0.597 m × cos 51.4°
    assert tr[tr["class"] == "track"].length.iloc[0] == pytest.approx(to_utm(track).length, rel=1e-3)


def test_only_tiles_touching_the_area_are_read(tmp_path):
    block = [(TX + i, TY + j) for i in range(3) for j in range(3)]
    field = box(TX * E + 100, TY * E + 100, (TX + 3) * E - 100, (TY + 3) * E - 100)
    path = tmp_path / "block.mbtiles"
    write_mbtiles(path, {"landcover": [(field, {"class": "wood", "subclass": "forest"})]}, block)
    inner = area_around((TX + 1) * E + 500, (TY + 1) * E + 500, (TX + 2) * E - 500, (TY + 2) * E - 500)
    one = read_tiles(path, inner)
    assert one.tiles == [(TX + 1, 2**Z - 1 - (TY + 1))]
    # the whole centre tile, as one piece of 4,096 units a side (about 1.53 km × 1.53 km)
    centre = to_utm(box((TX + 1) * E, (TY + 1) * E, (TX + 2) * E, (TY + 2) * E)).area
    assert centre == pytest.approx((E * UNIT * math.cos(math.radians(51.35))) ** 2, rel=0.01)
    assert one.layers["landcover"].area.iloc[0] == pytest.approx(centre, rel=1e-3)
    two = read_tiles(path, area_around((TX + 1) * E + 500, (TY + 1) * E + 500, (TX + 2) * E + 500,
                                       (TY + 2) * E - 500))
    assert len(two.tiles) == 2
    assert read_tiles(path, area_around(TX * E + 10, TY * E + 10, (TX + 3) * E - 10, (TY + 3) * E - 10)).tiles \
        == sorted((x, 2**Z - 1 - y) for x, y in block)
    extent = data_extent(path, inner)
    assert extent.area == pytest.approx(centre, rel=1e-3)


def test_class_mapping_equals_the_geopackage_reader(tmp_path):
    x0, y0 = TX * E, TY * E

    def sq(i: int, j: int) -> shapely.Geometry:
        return box(x0 + 300 * i + 50, y0 + 300 * j + 50, x0 + 300 * i + 250, y0 + 300 * j + 250)

    def ln(i: int) -> shapely.Geometry:
        return LineString([(x0 + 100, y0 + 3000 + 60 * i), (x0 + 3900, y0 + 3000 + 60 * i)])

    raw = {
        "landcover": [(sq(0, 0), {"class": "farmland", "subclass": "farmland"}),
                      (sq(1, 0), {"class": "wood", "subclass": "wood"}),
                      (sq(2, 0), {"class": "grass", "subclass": "meadow"}),
                      (sq(3, 0), {"class": "grass", "subclass": "park"}),
                      (sq(4, 0), {"class": "grass", "subclass": "allotments"}),
                      (sq(5, 0), {"class": "wetland", "subclass": "marsh"})],
        "landuse": [(sq(0, 1), {"class": "residential"}), (sq(1, 1), {"class": "industrial"}),
                    (sq(2, 1), {"class": "cemetery"}), (sq(3, 1), {"class": "railway"})],
        "water": [(sq(0, 2), {"class": "lake", "intermittent": "1"}), (sq(1, 2), {"class": "river"})],
        "transportation": [(ln(0), {"class": "motorway"}), (ln(1), {"class": "primary", "brunnel": "bridge"}),
                           (ln(2), {"class": "path"}), (ln(3), {"class": "rail"}),
                           (ln(4), {"class": "rail", "service": "siding"}), (ln(5), {"class": "tram"}),
                           (ln(6), {"class": "minor"})],
        "waterway": [(ln(8), {"class": "river", "intermittent": 1}), (ln(9), {"class": "stream", "brunnel": "tunnel"}),
                     (ln(10), {"class": "ditch"})],
        "park": [(sq(0, 4), {"class": "nature_reserve", "name:latin": "Auwald"}),
                 (sq(1, 4), {"class": "national_park"})],
        "aeroway": [(sq(0, 5), {"class": "aerodrome", "ref": "EDAC"}), (ln(12), {"class": "runway"})],
    }
    mbt = tmp_path / "one.mbtiles"
    write_mbtiles(mbt, raw, [(TX, TY)])
    gpkg = tmp_path / "omt.gpkg"
    # the GeoPackage keeps the aeroway lines in a layer of their own, the tiles do not
    gpkg_layers = {**raw, "aeroway": raw["aeroway"][:1], "aeroway_line": raw["aeroway"][1:]}
    for name, feats in gpkg_layers.items():
        cols = sorted({k for _, p in feats for k in p})
        gpd.GeoDataFrame({c: [p.get(c, None) for _, p in feats] for c in cols},
                         geometry=[to_merc(g) for g, _ in feats], crs="EPSG:3857").to_file(gpkg, layer=name)
    ref = read_openmaptiles(gpkg)

    def rows(d: gpd.GeoDataFrame) -> list[list[str]]:
        """Attributes plus area (m²) or length (m), sorted: the same features whatever their order."""
        size = d.area.where(d.geom_type.str.contains("Polygon"), d.length)
        return sorted(d.drop(columns="geometry").assign(m=size.round(0)).astype(str).values.tolist())

    got = read_mbtiles(mbt, area_around(x0, y0, x0 + E, y0 + E))
    assert set(got) == set(ref)
    for name, r in ref.items():
        g = got[name]
        r = r.to_crs("EPSG:25833")
        assert list(g.columns) == list(r.columns), name
        assert rows(g) == rows(r), name
    assert len(got["landcover"]) == 12 and len(got["roads"]) == 3 and len(got["railways"]) == 3
    assert sorted(got["aerodromes"]["class"]) == ["aerodrome", "runway"]
    assert sorted(got["landcover"]["class"]) == sorted(
        ["arable", "forest", "grassland", "other", "other", "other", "residential", "industrial", "other",
         "transport", "water", "water"])


def test_bad_input_is_one_clear_line(tmp_path):
    aoi = area_around(TX * E, TY * E, (TX + 1) * E, (TY + 1) * E)
    with pytest.raises(DataError, match=r"nope.mbtiles: MBTiles file not found; check sources.osm.path"):
        read_tiles(tmp_path / "nope.mbtiles", aoi)
    text = tmp_path / "text.mbtiles"
    text.write_text("not a database, just text " * 100)
    with pytest.raises(DataError, match=r"text.mbtiles: not an MBTiles file") as err:
        read_tiles(text, aoi)
    assert "\n" not in str(err.value)
    other = tmp_path / "other.mbtiles"
    sqlite3.connect(other).execute("CREATE TABLE t (a int)").connection.commit()
    with pytest.raises(DataError, match=r"other.mbtiles: not an MBTiles file \(no 'tiles' table\)"):
        read_tiles(other, aoi)
    path = tmp_path / "far.mbtiles"
    write_mbtiles(path, {"landcover": [(box(TX * E + 10, TY * E + 10, TX * E + 99, TY * E + 99),
                                        {"class": "farmland"})]}, [(TX, TY)])
    far = area_around((TX + 50) * E, TY * E, (TX + 51) * E, (TY + 1) * E)
    with pytest.raises(DataError, match=r"far.mbtiles: no tile touches the area of interest \(lon 13\.78"):
        read_tiles(path, far)
    assert data_extent(path, far).is_empty
    broken = tmp_path / "broken.mbtiles"
    write_mbtiles(broken, {}, [(TX, TY)])
    con = sqlite3.connect(broken)
    con.execute("UPDATE tiles SET tile_data = ?", (gzip.compress(b"\xff\xfe garbage")[:12],))
    con.commit()
    con.close()
    with pytest.raises(DataError, match=r"broken.mbtiles: tile 14/8769/10936 \(TMS\) is not a readable vector tile"):
        read_tiles(broken, aoi)


@pytest.mark.skipif(not SAXONY.exists(), reason=f"{SAXONY} not found")
def test_real_saxony_file_small_municipality(real_data):
    """Thallwitz (AGS 14729380, 53 km² of fields, woods and villages) from the Saxony tiles."""
    b = gpd.read_file(real_data / "boundaries" / "vg250_gemeinden_sachsen_2016_s200.geojson").to_crs("EPSG:25833")
    thallwitz = b.loc[b["AGS"] == "14729380"].geometry.iloc[0]
    read = read_tiles(SAXONY, thallwitz.buffer(500))
    assert 30 <= len(read.tiles) <= 80  # of 8,532 (tiles of about 1.5 km × 1.5 km on the ground)
    layers = canonical_layers(read.layers)
    lc = layers["landcover"].clip(thallwitz)
    ha = lc.area.groupby(lc["class"]).sum() / 1e4
    assert 0.8 * thallwitz.area / 1e4 < ha.sum() < thallwitz.area / 1e4
    assert 3000 < ha["arable"] < 4500 and 300 < ha["forest"] < 700 and 150 < ha["residential"] < 500
    # the same tilemaker data as the default region's GeoPackage, within 0.5 % per class
    bbox = tuple(gpd.GeoSeries([thallwitz.buffer(500)], crs="EPSG:25833").to_crs("EPSG:4326").total_bounds)
    ref = read_openmaptiles(real_data / "osm" / "omt_2021.gpkg", bbox=bbox)["landcover"].to_crs("EPSG:25833")
    ref = ref.clip(thallwitz)
    ref_ha = ref.area.groupby(ref["class"]).sum() / 1e4
    assert (ha / ref_ha - 1).abs().max() < 0.005
    roads = layers["roads"].clip(thallwitz)
    assert 150 < roads.length.sum() / 1e3 < 250  # km
    assert len(layers["buildings"]) > 3000


def utm_to_pixels(geom: shapely.Geometry) -> shapely.Geometry:
    """EPSG:25833 → global pixels (y down), the inverse of :func:`to_utm`."""
    m = gpd.GeoSeries([geom], crs="EPSG:25833").to_crs("EPSG:3857").iloc[0]
    return shapely.transform(m, lambda c: np.column_stack([(c[:, 0] + HALF) / UNIT, (HALF - c[:, 1]) / UNIT]))


def test_region_built_from_mbtiles(tmp_path):
    """``sources.osm: {type: mbtiles}`` in a region config: the tiny region's layers from tiles."""
    from conftest import X0, Y0, write_tiny_region

    from landuse.config import load_region
    from landuse.layers import build_layers

    cfg, data = write_tiny_region(tmp_path)
    field = box(X0 + 100, Y0 + 600, X0 + 1900, Y0 + 1400)  # 144 ha, on both municipalities
    feats = {
        "landcover": [(utm_to_pixels(field), {"class": "farmland", "subclass": "farmland"})],
        "transportation": [(utm_to_pixels(LineString([(X0 - 1000, Y0 + 450), (X0 + 3000, Y0 + 450)])),
                            {"class": "motorway"})],
        "building": [(utm_to_pixels(box(X0 + 200, Y0 + 100, X0 + 215, Y0 + 112)), {"render_height": 7.5})],
    }
    x0, y0, x1, y1 = utm_to_pixels(box(X0 - 12_000, Y0 - 12_000, X0 + 14_000, Y0 + 14_000)).bounds
    block = [(x, y) for x in range(int(x0 // E), int(x1 // E) + 1) for y in range(int(y0 // E), int(y1 // E) + 1)]
    write_mbtiles(data / "tiles.mbtiles", feats, block)
    text = cfg.read_text().replace("type: osm_xml\n    path: osm/tiny.osm", "type: mbtiles\n    path: tiles.mbtiles")
    cfg.write_text(text)
    ls = build_layers(load_region(cfg), data, raster_dir=tmp_path / "r")
    lc = ls["landcover"]
    assert list(lc["class"]) == ["arable"] and lc.area.sum() == pytest.approx(field.area, rel=1e-3)
    motorway = ls["roads"]
    assert list(motorway["class"]) == ["motorway"] and motorway.length.sum() == pytest.approx(4000, rel=1e-3)
    assert ls["buildings"]["height_m"].tolist() == [7.5]
    assert ls.manifest["coverage"]["region_missing_km2"] == pytest.approx(0, abs=1e-6)
    assert ls.manifest["coverage"]["margin_missing_km2"] == pytest.approx(0, abs=1e-6)
    assert [s["source"] for s in ls.manifest["sources"]].count("osm") == 1
    assert any(s.get("type") == "mbtiles" for s in ls.manifest["sources"])
