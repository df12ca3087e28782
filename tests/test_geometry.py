"""Vectorised geometry helpers: dissolving exclusion zones in tiles, unions per group, cuts."""

import os

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from landuse.geometry import (
    CHUNKS_PER_THREAD,
    QUAD_SEGS,
    cut,
    dissolve_in_tiles,
    drop_small_patches,
    grid_tiles,
    map_chunks,
    map_threads,
    outline_pieces,
    query_pairs,
    snap_to_grid,
    thread_count,
    union_in_tiles,
    union_per_group,
)


def _circles(n=400, seed=3):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(n, 2))
    return shapely.buffer(shapely.points(xy), 1000, quad_segs=QUAD_SEGS)


def test_tiles_hold_the_exact_union_in_disjoint_pieces():
    zones = _circles()
    pieces = dissolve_in_tiles(zones, tile_m=2000)
    union = shapely.union_all(zones)
    assert sum(shapely.area(pieces)) == pytest.approx(union.area, rel=1e-12)
    # disjoint: the pieces' areas add up to the area of their union, and each lies in one 2 km tile
    assert shapely.union_all(pieces).area == pytest.approx(sum(shapely.area(pieces)), rel=1e-12)
    b = shapely.bounds(pieces)
    assert (np.floor(b[:, 0] / 2000 + 1e-9) == np.floor(b[:, 2] / 2000 - 1e-9)).all()
    assert len(pieces) < len(zones)


def test_tiles_near_the_parcels_only():
    zones = _circles()
    near = shapely.STRtree(np.array([box(100, 100, 900, 900)]))
    pieces = dissolve_in_tiles(zones, tile_m=2000, near=near)
    # only the tile (0..2000, 0..2000) touches the parcel
    assert shapely.union_all(pieces).within(box(0, 0, 2000, 2000))
    assert shapely.union_all(pieces).area == pytest.approx(shapely.union_all(zones).intersection(
        box(0, 0, 2000, 2000)).area, rel=1e-12)


def test_union_per_group():
    labels, unions = union_per_group(np.array([box(0, 0, 2, 2), box(5, 5, 6, 6), box(1, 1, 3, 3)]),
                                     np.array([7, 3, 7]))
    assert list(labels) == [3, 7]
    assert [u.area for u in unions] == [1.0, 7.0]


def test_cut_equals_difference_with_the_union():
    zones = _circles(60)
    fields = shapely.box(np.arange(0, 10_000, 500), 4000, np.arange(0, 10_000, 500) + 450, 6000)
    expected = shapely.difference(fields, shapely.union_all(zones))
    got = cut(fields, zones)
    assert np.allclose(shapely.area(got), shapely.area(expected), rtol=1e-9, atol=1e-6)


def test_small_patches_are_judged_within_their_group():
    # one 2 ha patch across the border of two municipalities: 1 ha on each side
    west, east = box(0, 0, 100, 100), box(100, 0, 200, 100)
    kept, share = drop_small_patches(np.array([west, east]), 1.5e4)
    assert share.tolist() == [0.0, 0.0]  # together 2 ha: kept
    kept, share = drop_small_patches(np.array([west, east]), 1.5e4, groups=np.array(["A", "B"]))
    assert share.tolist() == [1.0, 1.0] and all(k.is_empty for k in kept)  # 1 ha in each municipality


def test_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("LANDUSE_THREADS", "3")
    assert thread_count() == 3
    monkeypatch.delenv("LANDUSE_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Dask sets in its worker processes
    assert thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert thread_count() == (os.cpu_count() or 1)


def test_map_threads_keeps_the_order(monkeypatch):
    monkeypatch.setenv("LANDUSE_THREADS", "4")
    zones = [_circles(50, seed=s) for s in range(6)]
    assert map_threads(lambda z: shapely.union_all(z).area, zones) == [shapely.union_all(z).area for z in zones]


def test_map_chunks_hands_the_threads_many_slices_and_joins_them_in_order(monkeypatch):
    monkeypatch.setenv("LANDUSE_THREADS", "2")
    zones = _circles(n=2000)
    sizes = []

    def buffer(geoms):
        sizes.append(len(geoms))
        return shapely.buffer(geoms, 50.0, quad_segs=QUAD_SEGS)

    out = map_chunks(buffer, zones)
    # slices the threads take in turn as they finish, all of them, each element once
    assert len(sizes) == 2 * CHUNKS_PER_THREAD and sum(sizes) == 2000 and min(sizes) >= 32
    assert shapely.equals_exact(out, shapely.buffer(zones, 50.0, quad_segs=QUAD_SEGS), tolerance=0).all()
    # a circle of 1 km buffered by 50 m has the area of one of 1,050 m (less the polygon's 0.2 %)
    assert shapely.area(out) == pytest.approx(np.pi * 1050.0 ** 2, rel=3e-3)
    sizes.clear()
    assert len(map_chunks(buffer, zones[:40])) == 40 and sizes == [40]  # too few for two slices of 32


def test_query_pairs_on_threads_are_the_pairs_of_one_query(monkeypatch):
    import geopandas as gpd

    monkeypatch.setenv("LANDUSE_THREADS", "2")
    zones = _circles(n=3000)  # 1 km circles over 10 km: each meets dozens of the others
    tree = shapely.STRtree(zones)
    pairs = query_pairs(tree, zones, predicate="intersects")
    assert pairs.shape[1] > 20 * len(zones)
    assert np.array_equal(pairs, tree.query(zones, predicate="intersects"))
    # each circle's own pair, and no pair of centres more than 2 km apart
    centres = shapely.centroid(zones)
    assert (pairs[0] == pairs[1]).sum() == len(zones)
    assert shapely.distance(centres[pairs[0]], centres[pairs[1]]).max() < 2000.0
    near = query_pairs(gpd.GeoSeries(zones).sindex, centres, predicate="dwithin", distance=500.0)
    assert np.array_equal(near, gpd.GeoSeries(zones).sindex.query(centres, predicate="dwithin", distance=500.0))
    assert shapely.distance(centres[near[0]], zones[near[1]]).max() <= 500.0


def test_union_in_tiles_is_aligned_with_the_tiles():
    zones = _circles(80)
    area = box(-3000, -3000, 13_000, 13_000)  # wider than the circles: some tiles stay empty
    tiles = grid_tiles(area, tile_m=2000)
    assert len(tiles) == 81 and shapely.union_all(tiles).area == pytest.approx(18_000**2)  # -4 km .. 14 km
    pieces = union_in_tiles(zones, tiles)
    assert len(pieces) == len(tiles)
    assert shapely.is_empty(pieces).sum() > 0
    assert shapely.within(pieces[~shapely.is_empty(pieces)], tiles[~shapely.is_empty(pieces)]).all()
    assert shapely.area(pieces).sum() == pytest.approx(shapely.union_all(zones).area, rel=1e-12)


def test_outline_pieces_cover_the_outlines_vertex_for_vertex():
    ring_with_hole = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(20, 20), (30, 20), (30, 30)]])
    road = shapely.LineString([(200, 0), (210, 5), (220, 0), (230, 5), (240, 0), (250, 5), (260, 0)])
    geoms = np.array([ring_with_hole, road, shapely.MultiPoint([(5, 5), (6, 6)]), shapely.Polygon()])
    for k in (1, 2, 4, 100):
        pieces = outline_pieces(geoms, max_segments=k)
        kinds = shapely.get_type_id(pieces)
        assert (kinds == 0).sum() == 2
        lines = pieces[kinds == 1]
        assert shapely.get_num_coordinates(lines).max() <= k + 1
        # the outer ring (4 segments), the hole (3) and the road (6): ceil(n / k) pieces each
        assert len(lines) == sum(-(-n // k) for n in (4, 3, 6))
        assert shapely.length(lines).sum() == pytest.approx(400 + 10 + 10 + np.hypot(10, 10) + 6 * np.hypot(10, 5))
        outline = shapely.union_all([ring_with_hole.boundary, road])
        assert shapely.equals(shapely.line_merge(shapely.union_all(lines)), shapely.line_merge(outline))


def test_snap_to_grid_rounds_what_stays_valid_and_snap_rounds_the_rest():
    grid = 0.001
    # valid after rounding: vertices 0.2 mm apart become one, nothing else changes
    plain = shapely.Polygon([(0, 0), (100.0002, 0), (100, 0.0001), (100, 50.00049), (0, 50)])
    # a 0.1 mm hole collapses and a 0.3 mm spike folds back onto its base when rounded: invalid,
    # so these are snap-rounded in full
    hole = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(5, 5), (5.0001, 5), (5, 5.0001)]])
    spike = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5.0002, 10), (5, 10.0003), (4.9998, 10), (0, 10)])
    geoms = np.array([plain, hole, spike, None], dtype=object)
    out = snap_to_grid(geoms, grid)
    assert out[3] is None
    assert shapely.is_valid(out[:3]).all()
    coords = shapely.get_coordinates(out[:3])
    np.testing.assert_allclose(coords, np.round(coords / grid) * grid, atol=1e-9)
    assert shapely.get_coordinates(out[0]).tolist() == [[0, 0], [100, 0], [100, 50], [0, 50], [0, 0]]
    assert shapely.get_num_interior_rings(out[1]) == 0 and out[1].area == pytest.approx(100)
    assert out[2].area == pytest.approx(100, abs=1e-3)
    # the same as full snap rounding in area, and free of repeated vertices
    full = shapely.set_precision(geoms[:3], grid)
    np.testing.assert_allclose(shapely.area(out[:3]), shapely.area(full), atol=1e-6)
    unrepeated = shapely.remove_repeated_points(out[:3])
    assert (shapely.get_num_coordinates(unrepeated) == shapely.get_num_coordinates(out[:3])).all()


def test_snap_to_grid_keeps_what_is_on_the_grid_already():
    on_grid = shapely.Polygon([(500000.001, 5700000.002), (500010.001, 5700000.002), (500010.001, 5700005.0),
                               (500000.001, 5700005.0)])  # a parcel: 1 mm vertices, kept as they are
    repeated = shapely.Polygon([(0, 0), (10, 0), (10, 0), (10, 10), (0, 10)])
    out = snap_to_grid(np.array([on_grid, repeated]), 1e-5)
    assert out[0] is on_grid
    assert out[1] is not repeated and shapely.get_num_coordinates(out[1]) == 5 and shapely.is_valid(out[1])
