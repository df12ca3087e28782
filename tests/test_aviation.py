"""Approach areas (landuse.aviation): runway pieces joined, trapezoids at both ends, the wind
exclusion they give."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from landuse.aviation import approach_surfaces, runways
from landuse.config import WORKING_CRS
from landuse.criteria import load_rule_set
from landuse.layers import SCHEMA, LayerSet, conform
from landuse.suitability import exclusion_zones

ICAO = {"inner_edge_m": 300, "offset_m": 60, "divergence": 0.15, "length_m": 15000, "min_runway_m": 1200}


def _lines(*geoms, cls="runway"):
    return gpd.GeoDataFrame({"class": [cls] * len(geoms)}, geometry=list(geoms), crs=WORKING_CRS)


def test_runway_pieces_join_into_one_axis():
    # a 3,000 m runway east-west in three pieces, one drawn backwards, plus a crossing glider strip
    pieces = _lines(LineString([(0, 0), (1000, 0)]), LineString([(2000, 0), (1000.5, 0.2)]),
                    LineString([(2000, 0), (3000, 0)]), LineString([(1500, -400), (1500, 400)]))
    rwy = runways(pieces)
    assert len(rwy) == 2
    main = rwy.loc[rwy["length_m"].idxmax()]
    assert main["length_m"] == pytest.approx(3000, abs=0.5)
    assert main["bearing_deg"] == pytest.approx(90, abs=0.1)
    assert rwy["length_m"].min() == pytest.approx(800)


def test_trapezoid_geometry_and_one_metre_outside():
    rwy = _lines(LineString([(0, 0), (2000, 0)]))
    zones = approach_surfaces(rwy, **ICAO)
    assert len(zones) == 2 and set(zones["end"]) == {90.0, 270.0}
    east = zones.loc[zones["end"] == 90.0].geometry.iloc[0]
    # area of the trapezoid: (300 + 300 + 2 × 0.15 × 15,000) / 2 × 15,000
    assert east.area == pytest.approx((300 + 300 + 2 * 2250) / 2 * 15000, rel=1e-9)
    # 5 km beyond the inner edge the half-width is 150 + 0.15 × 5,000 = 900 m
    x = 2000 + 60 + 5000
    assert east.contains(Point(x, 899)) and east.contains(Point(x, -899))
    assert not east.intersects(Point(x, 901)) and not east.intersects(Point(x, -901))
    # starts 60 m beyond the runway end and reaches 15 km out
    assert east.bounds[0] == pytest.approx(2060) and east.bounds[2] == pytest.approx(17060)
    west = zones.loc[zones["end"] == 270.0].geometry.iloc[0]
    assert west.bounds[2] == pytest.approx(-60) and west.bounds[0] == pytest.approx(-15060)


def test_short_runways_get_no_trapezoid():
    zones = approach_surfaces(_lines(LineString([(0, 0), (700, 0)])), **ICAO)
    assert zones.empty


def test_wind_rule_excludes_the_approach_area():
    rules = load_rule_set("wind")
    rule = next(e for e in rules.exclusions if e.name == "approach_surface")
    assert rule.layer == "approach_surfaces" and rule.buffer_m == 0  # measured from the rotor: no reduction
    empty = {name: conform(gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS), name, "test") for name in SCHEMA}
    aero = conform(gpd.GeoDataFrame({"class": ["runway", "taxiway"]},
                                    geometry=[LineString([(0, 0), (3600, 0)]), LineString([(0, 200), (3600, 200)])],
                                    crs=WORKING_CRS), "aerodromes", "test")
    zones = exclusion_zones(LayerSet(layers={**empty, "aerodromes": aero}), rule, rules.values)
    assert len(zones) == 2  # the taxiway gives none
    union = shapely.union_all(zones)
    # a turbine 10 km east of the runway on the axis stands in it; one 1 m beyond the edge does not
    half = 150 + 0.15 * (10000 - 60)
    assert union.contains(Point(3600 + 10000, 0))
    assert not union.intersects(Point(3600 + 10000, half + 1))
    assert union.contains(Point(3600 + 10000, half - 1))
    assert not union.intersects(box(5000, 5000, 6000, 6000))
    assert np.isclose(shapely.area(union), 2 * (300 + 300 + 2 * 0.15 * 15000) / 2 * 15000)
