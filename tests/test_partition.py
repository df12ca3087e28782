"""Partitioned runs (landuse.partition): parts by municipality, and a partitioned run that gives
the single-process results."""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from landuse.config import load_region, region_from_mapping
from landuse.errors import ConfigError
from landuse.partition import _merged_manifest, parts_of


def test_one_part_per_municipality_in_ags_order(tmp_path):
    region = load_region("leipzig-wurzen")
    parts = parts_of(region, layers_dir=tmp_path / "layers", out=tmp_path / "out")
    assert [p.ags for p in parts] == sorted(m.ags for m in region.municipalities)
    wurzen = next(p for p in parts if p.name == "Wurzen")
    sub = wurzen.region
    assert [m.name for m in sub.municipalities] == ["Wurzen"] and sub.municipalities[0].group == "Wurzener Land"
    assert sub.sources == region.sources and sub.margin_m == region.margin_m and not sub.baseline
    assert wurzen.out == tmp_path / "out" / ".landuse-cache" / "partitions" / "14729410"
    # every part keeps its own store under the run's layers folder
    assert len({p.layers_dir / p.raw["name"] for p in parts}) == 5


def test_a_municipality_without_ags_cannot_be_a_part(tmp_path):
    raw = yaml.safe_load((REPO / "landuse" / "regions" / "leipzig-wurzen.yaml").read_text(encoding="utf-8"))
    raw.update(municipalities=[{"name": "Wurzen", "group": "W"}], baseline={})
    region = region_from_mapping(raw, tmp_path / "r.yaml")
    with pytest.raises(ConfigError, match="Wurzen.*no ags.*--workers"):
        parts_of(region, layers_dir=tmp_path, out=tmp_path)


def test_merged_notes_say_in_how_many_municipalities_they_hold():
    region = load_region("leipzig-wurzen")
    base = {"crs": "EPSG:25833", "margin_m": 3000.0, "layers": {"roads": {"features": 2, "source": "osm"}},
            "sources": [{"source": "osm", "path": "a.gpkg"}], "region_area_ha": 10.0}
    records = [{"manifest": {**base, "region": "a", "created": "2026-01-01", "notes": ["no LSG", "no dem"]}},
               {"manifest": {**base, "region": "b", "created": "2026-02-01", "notes": ["no LSG"]}}]
    m = _merged_manifest(region, records)
    assert m["notes"] == ["no LSG", "no dem (in 1 of 2 municipalities)"]
    assert m["created"] == "2026-02-01" and m["region_area_ha"] == 20.0 and m["partitions"] == 2
    assert m["layers"]["roads"]["features"] == 4 and len(m["sources"]) == 1


@pytest.fixture(scope="module")
def two_municipalities(tmp_path_factory, real_data):
    """Thallwitz and Wurzen (neighbours) on the default region's data, without an emission load."""
    folder = tmp_path_factory.mktemp("two")
    raw = yaml.safe_load((REPO / "landuse" / "regions" / "leipzig-wurzen.yaml").read_text(encoding="utf-8"))
    raw.update(name="two", title="Thallwitz and Wurzen",
               municipalities=[{"name": "Wurzen", "ags": "14729410", "group": "Both"},
                               {"name": "Thallwitz", "ags": "14729380", "group": "Both"}],
               baseline={"year": 2016, "source": "no load configured (test region)", "groups": {"Both": {}}})
    path = folder / "two.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, real_data, folder


def test_partitioned_run_equals_the_single_process_run(two_municipalities):
    from landuse.pipeline import run

    path, data, folder = two_municipalities
    common = {"data": data, "layers_dir": folder / "layers", "outputs": ("exports",)}
    single = run(str(path), out=folder / "single", **common)
    omp = os.environ.get("OMP_NUM_THREADS")
    parted = run(str(path), out=folder / "parted", workers=2, **common)
    # Dask sets OMP_NUM_THREADS=1 for its workers here too; the main process gets its threads back
    assert os.environ.get("OMP_NUM_THREADS") == omp
    a = pd.read_csv(folder / "single" / "summary.csv")
    b = pd.read_csv(folder / "parted" / "summary.csv")
    assert len(a) > 10 and list(a.columns) == list(b.columns)
    technical = a["tier"].eq("technical").to_numpy()
    assert technical.any() and (~technical).any()
    # the technical tier to the last digit; the realistic tier is HiGHS's optimum, equal within
    # the solver's feasibility tolerance (1e-7)
    pd.testing.assert_frame_equal(a[technical], b[technical], check_exact=False, rtol=1e-12, atol=1e-9)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, atol=1e-6)
    # the same parcels, scores and turbines, not only the same totals
    pa, pb = single["suitability"].data["parcels"], parted["suitability"].data["parcels"]
    assert list(pa["parcel_id"]) == list(pb["parcel_id"])
    assert np.isclose(pa.geometry.area.sum(), pb.geometry.area.sum(), rtol=1e-12)
    for col in ("wind_score", "pv_score", "agroforestry_score", "wind_eligible_ha", "pv_eligible_ha"):
        assert np.allclose(pa[col].to_numpy(float), pb[col].to_numpy(float), equal_nan=True), col
    # the merged parcel model (the scored parcels' own columns) is the single process's
    ma, mb = single["parcels"].data, parted["parcels"].data
    assert list(ma.columns) == list(mb.columns) and mb.index.name == "parcel_id" and mb.crs == ma.crs
    pd.testing.assert_frame_equal(ma.drop(columns="geometry"), mb.drop(columns="geometry"))
    assert ma.geometry.geom_equals_exact(mb.geometry, tolerance=0).all()
    ta, tb = single["suitability"].data["wind_turbines"], parted["suitability"].data["wind_turbines"]
    assert len(ta) >= 5 and list(ta["turbine_id"]) == list(tb["turbine_id"])
    assert np.allclose(ta[["x", "y"]].to_numpy(float), tb[["x", "y"]].to_numpy(float))
    pd.testing.assert_frame_equal(single["suitability"].summary, parted["suitability"].summary)
    la = pd.read_csv(folder / "single" / "land_stats.csv")
    lb = pd.read_csv(folder / "parted" / "land_stats.csv")
    pd.testing.assert_frame_equal(la, lb, check_exact=False, rtol=1e-9)
    # each part kept its own layer store and stage cache
    assert len(list((folder / "layers" / "partitions" / "two").glob("two-*.gpkg"))) == 2
    assert isinstance(parted["layers"].data["boundaries"], gpd.GeoDataFrame)
    assert parted["layers"].data.manifest["partitions"] == 2


def test_a_scheduler_that_does_not_answer_is_one_line(monkeypatch, tmp_path):
    from landuse import partition

    monkeypatch.setattr(partition, "SCHEDULER_TIMEOUT_S", 1)
    with pytest.raises(ConfigError, match=r"--scheduler tcp://127.0.0.1:9: no Dask scheduler answers there within 1 s"):
        partition.run_parts(parts_of(load_region("leipzig-wurzen"), layers_dir=tmp_path, out=tmp_path),
                            scheduler="tcp://127.0.0.1:9", progress=False, data=None)


def test_failed_municipalities_are_told_together_after_the_others(two_municipalities, tmp_path):
    from landuse.errors import DataError
    from landuse.partition import run_parts

    path, _, _ = two_municipalities
    parts = parts_of(load_region(str(path)), layers_dir=tmp_path / "layers", out=tmp_path / "out")
    empty = tmp_path / "no-data"
    empty.mkdir()
    # neither part finds its OpenStreetMap file: both run to their end, and one error names both
    with pytest.raises(DataError, match=r"^2 of 2 municipalities failed; (Wurzen|Thallwitz) \(1472\d{4}\): .*not "
                                        r"found.* Also failed \(see the warnings above\): (Thallwitz|Wurzen) .*a rerun "
                                        r"redoes only the failed ones\.$"):
        run_parts(parts, workers=1, progress=False, data=empty)
