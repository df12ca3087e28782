"""Land statistics: categories in ha from the canonical layers."""

import pytest

from landuse.config import load_region
from landuse.stats import format_statistics, land_statistics, transport_area


def test_transport_area_from_line_widths(tiny_layers):
    region = tiny_layers.region_geometry
    transport = transport_area(tiny_layers, area=region).intersection(region)
    # motorway 2000 m × 30 m, rail 2000 m × 6 m, track (x = 1000, y 500…1950) 4 m wide; the
    # track starts 35 m north of the motorway's edge and crosses the rail once (4 m × 6 m).
    expected = 2000 * 30 + 2000 * 6 + (1450 * 4 - 4 * 6)
    assert transport.area == pytest.approx(expected, rel=2e-3)


def test_statistics_table(tiny_layers, tiny_region):
    cfg, _ = tiny_region
    table = land_statistics(tiny_layers, load_region(cfg))
    nord, sued = table.loc["Nordheim"], table.loc["Südheim"]
    assert nord["land_area_ha"] == pytest.approx(200, abs=0.1)
    # Südheim: residential 500 × 300 m and industrial 200 × 100 m (the motorway at y = 435…465 m
    # touches neither); transport: the motorway and the track's 500 m south of the border
    # (the table is rounded to 0.1 ha)
    assert sued["settlement_ha"] == pytest.approx((500 * 300 + 200 * 100) / 1e4, abs=0.051)
    assert sued["transport_ha"] == pytest.approx((2000 * 30 + 500 * 4) / 1e4, abs=0.051)
    for row in (nord, sued):
        assert row["settlement_ha"] + row["transport_ha"] + row["vegetation_water_ha"] + row["unmapped_ha"] == \
            pytest.approx(row["land_area_ha"], abs=0.2)
    # Südheim maps only the field north of the motorway, the residential and industrial blocks:
    # the rest of its 200 ha is unmapped, not vegetation (field part 1800 × 400 m less the track)
    assert sued["vegetation_water_ha"] == pytest.approx((1800 - 4) * 400 / 1e4, abs=0.1)
    assert sued["unmapped_ha"] == pytest.approx(200 - 6.2 - 17 - 71.84, abs=0.2)
    assert sued["unmapped_ha_diff_pct"] != sued["unmapped_ha_diff_pct"]  # no baseline figure: NaN
    # groups and region add up; the baseline is compared
    assert table.loc["Region", "land_area_ha"] == pytest.approx(400, abs=0.1)
    south = table[table["level"] == "group"].loc["South"]
    assert south["settlement_ha_baseline"] == 20
    assert south["settlement_ha_diff_pct"] == pytest.approx(100 * (17 - 20) / 20, abs=0.5)
    text = format_statistics(table)
    assert "Südheim" in text and "baseline" in text



def test_land_rows_of_a_municipality_with_tiles_wholly_inside():
    """A 6 km × 6 km municipality on the 2 km grid: its inner tiles are counted without being cut."""
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from landuse.layers import LayerSet
    from landuse.stats import municipal_land_rows

    crs = "EPSG:25833"
    x0, y0 = 340_000.0, 5_700_000.0  # multiples of the 2 km grid
    muni = box(x0, y0, x0 + 6000, y0 + 6000)
    # a forest over the four middle tiles and beyond, a village inside it, railway land on the
    # border; a 7 m road across the forest, a 6 m railway on the village's north edge
    landcover = gpd.GeoDataFrame(
        {"class": ["forest", "residential", "transport"], "subclass": ["forest", "residential", "railway"]},
        geometry=[box(x0 + 1000, y0 + 1000, x0 + 5000, y0 + 5000), box(x0 + 2500, y0 + 2500, x0 + 3500, y0 + 3000),
                  box(x0 + 5900, y0, x0 + 6100, y0 + 1000)], crs=crs)
    roads = gpd.GeoDataFrame({"class": ["minor"], "kind": ["minor"], "bridge_tunnel": [""]},
                             geometry=[LineString([(x0 + 500, y0 + 2000), (x0 + 5500, y0 + 2000)])], crs=crs)
    railways = gpd.GeoDataFrame({"kind": ["rail"]},
                                geometry=[LineString([(x0 + 2500, y0 + 3000), (x0 + 3500, y0 + 3000)])], crs=crs)
    aerodromes = gpd.GeoDataFrame({"class": []}, geometry=[], crs=crs)
    boundaries = gpd.GeoDataFrame({"ags": ["14999001"], "name": ["Mitte"], "group": ["g"]}, geometry=[muni], crs=crs)
    layers = LayerSet(layers={"boundaries": boundaries, "landcover": landcover, "roads": roads,
                              "railways": railways, "aerodromes": aerodromes})
    row = municipal_land_rows(layers).loc["Mitte"]
    assert row["land_area_ha"] == pytest.approx(3600)
    road, rail, railway_land = 5000 * 7, 1000 * 6, 100 * 1000  # the railway land's half inside
    assert row["transport_ha"] == pytest.approx((road + rail + railway_land) / 1e4, abs=1e-6)
    # the railway's southern 3 m lie on the village, which keeps the rest
    assert row["settlement_ha"] == pytest.approx((1000 * 500 - 1000 * 3) / 1e4, abs=1e-6)
    # the forest less the village, the road across it (4000 m of it) and the railway's northern 3 m
    assert row["vegetation_water_ha"] == pytest.approx((4000 * 4000 - 1000 * 500 - 4000 * 7 - 1000 * 3) / 1e4,
                                                       abs=1e-6)
    # outside the forest and the railway land: only the road's 1000 m beyond the forest is mapped
    assert row["unmapped_ha"] == pytest.approx(3600 - 1600 - 10 - 1000 * 7 / 1e4, abs=1e-6)
