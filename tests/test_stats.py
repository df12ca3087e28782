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

