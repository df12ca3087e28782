"""Reading files with clear errors, writing outputs so that an interrupted run loses nothing,
and identical runs giving identical files."""

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Polygon, box

from landuse.cli import main
from landuse.errors import DataError
from landuse.io import clean_temporary, read_vector

REPO = Path(__file__).resolve().parents[1]


def test_degrees_labelled_as_metres(tmp_path):
    path = tmp_path / "gemeinden.gpkg"
    gpd.GeoDataFrame({"GEN": ["A"]}, geometry=[box(12.7, 51.3, 12.8, 51.4)], crs="EPSG:25833").to_file(path)
    with pytest.raises(DataError) as err:
        read_vector(path)
    message = str(err.value)
    assert message.startswith(f"{path}: its CRS is EPSG:25833 (metres) but its coordinates (12.700, 51.300")
    assert "look like degrees" in message and "\n" not in message


def test_z_coordinates_dropped(tmp_path, caplog):
    path = tmp_path / "z.gpkg"
    x, y = 340_000, 5_700_000  # east of Wurzen
    gpd.GeoDataFrame({"a": [1]}, geometry=[Polygon([(x, y, 5), (x + 10, y, 5), (x + 10, y + 10, 7), (x, y, 5)])],
                     crs="EPSG:25833").to_file(path)
    gdf = read_vector(path)
    assert not shapely.has_z(gdf.geometry.values).any()
    assert gdf.geometry.area.iloc[0] == pytest.approx(50.0)
    assert "Z/M coordinates dropped" in caplog.text


def test_encoding_of_an_old_shapefile(tmp_path):
    path = tmp_path / "old.shp"
    gpd.GeoDataFrame({"name": ["Wurzen – Nord"]}, geometry=[box(340_000, 5_700_000, 340_001, 5_700_001)],
                     crs="EPSG:25833").to_file(path, encoding="cp1252")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    with pytest.raises(DataError) as err:  # read as the wrong encoding: an error, not a control character
        read_vector(path)
    assert str(err.value).startswith(f"{path}: column 'name' holds control characters")
    assert "set 'encoding: cp1252'" in str(err.value)
    assert read_vector(path, encoding="cp1252")["name"].iloc[0] == "Wurzen – Nord"
    with pytest.raises(DataError, match=r"unknown encoding 'klingon'"):
        read_vector(path, encoding="klingon")


def test_truncated_geopackage(tmp_path):
    good = tmp_path / "good.gpkg"
    gpd.GeoDataFrame({"a": range(50)}, geometry=[box(i, 0, i + 1, 1) for i in range(50)], crs="EPSG:25833").to_file(
        good)
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(DataError) as err:
        read_vector(bad)
    assert str(err.value).startswith(f"{bad}: not a readable GIS file (") and "truncated" in str(err.value)


def test_clean_temporary_restores_a_cut_swap(tmp_path):
    (tmp_path / ".shapefiles.old").mkdir()
    (tmp_path / ".shapefiles.old" / "parcels.shp").write_text("old")
    (tmp_path / ".landuse.tmp-abc.gpkg").write_text("half")
    (tmp_path / ".shapefiles.tmp-xyz").mkdir()
    (tmp_path / ".landuse-cache").mkdir()  # not a temporary file: kept
    done = clean_temporary(tmp_path)
    assert (tmp_path / "shapefiles" / "parcels.shp").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".landuse-cache", "shapefiles"]
    assert len(done) == 3


def _export(tiny_region, out, layers, crash=None):
    """``landuse export`` in its own process; the export stage always rewrites its files."""
    cfg, data = tiny_region
    records = out / ".landuse-cache" / "stages.json"
    if records.exists():  # forget the exports' record, keep the other stages: only the export reruns
        stages = json.loads(records.read_text(encoding="utf-8"))
        stages.pop("exports/default", None)
        records.write_text(json.dumps(stages), encoding="utf-8")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    if crash:
        env["LANDUSE_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "landuse.cli", "-q", "export", "--region", str(cfg), "--data",
                           str(data), "--out", str(out), "--layers-dir", str(layers)],
                          env=env, capture_output=True, text=True, cwd=REPO)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The deliverables' bytes (hidden entries aside: the cache, temporary files)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def test_killed_export_loses_nothing(tiny_region, tmp_path):
    out, layers = tmp_path / "out", tmp_path / "layers"
    first = _export(tiny_region, out, layers)
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    # a file cut before its rename (every file goes through the same atomic_path), and a folder swap cut
    # between its two renames
    for point in ("before-replace:landuse.gpkg", "between-renames:shapefiles"):
        killed = _export(tiny_region, out, layers, crash=point)
        assert killed.returncode == 137, point  # died like kill -9, no clean-up code ran
        left = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".landuse-cache")
        assert left, point  # it did die half-way: temporary files are there
        if point.startswith("between-renames"):
            assert not (out / "shapefiles").exists() and (out / ".shapefiles.old").is_dir()
        else:
            assert _snapshot(out) == before, point  # the previous complete export is untouched
        again = _export(tiny_region, out, layers)
        assert again.returncode == 0, again.stderr
        assert _snapshot(out) == before, point  # complete again, and (same inputs) the same bytes
        assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".landuse-cache"]


def test_identical_runs_give_identical_files(tiny_region, tmp_path, monkeypatch):
    cfg, data = tiny_region
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    for name in ("a", "b"):  # separate layer stores and caches: nothing shared but the inputs
        result = CliRunner().invoke(main, ["-q", "run", "--region", str(cfg), "--data", str(data), "--out",
                                           str(tmp_path / name / "out"), "--layers-dir", str(tmp_path / name / "l")])
        assert result.exit_code == 0, result.output
    a, b = _snapshot(tmp_path / "a" / "out"), _snapshot(tmp_path / "b" / "out")
    assert sorted(a) == sorted(b) and "map.html" in a and "landuse.xlsx" in a
    assert [name for name in a if a[name] != b[name]] == []
    assert str(tmp_path) not in (tmp_path / "a" / "out" / "map.html").read_text(encoding="utf-8")
    assert filecmp.cmp(tmp_path / "a" / "out" / "landuse.gpkg", tmp_path / "b" / "out" / "landuse.gpkg", shallow=False)


def test_coordinates_outside_the_crs_area_of_use(tmp_path):
    path = tmp_path / "gk.gpkg"
    # Gauss-Krüger zone 4 coordinates (x about 4.5 million m) labelled as UTM zone 33
    gpd.GeoDataFrame({"GEN": ["A"]}, geometry=[box(4530000, 5690000, 4540000, 5700000)],
                     crs="EPSG:25833").to_file(path)
    with pytest.raises(DataError) as err:
        read_vector(path)
    message = str(err.value)
    assert message.startswith(f"{path}: its coordinates (4,530,000, 5,690,000 … 4,540,000, 5,700,000) lie outside the "
                              "area of use of its CRS EPSG:25833")
    assert "set 'crs:'" in message and "\n" not in message
    ok = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame({"GEN": ["A"]}, geometry=[box(330000, 5690000, 340000, 5700000)], crs="EPSG:25833").to_file(ok)
    assert len(read_vector(ok)) == 1


def test_large_files_are_hashed_once_while_size_and_time_stay(tmp_path, monkeypatch):
    import hashlib

    import landuse.io as io

    reads = []
    real = io._sha256
    monkeypatch.setattr(io, "_sha256", lambda path, chunk: reads.append(path) or real(path, chunk))
    big, small = tmp_path / "tiles.mbtiles", tmp_path / "rules.yaml"
    big.write_bytes(b"a" * (2 << 20))
    small.write_bytes(b"x: 1\n")
    first = io.sha256_file(big)
    assert first == hashlib.sha256(b"a" * (2 << 20)).hexdigest()
    assert io.sha256_file(big) == first and len(reads) == 1  # remembered
    io.sha256_file(small), io.sha256_file(small)
    assert len(reads) == 3  # small files are always read
    # the same size, other bytes, another modification time: hashed anew
    big.write_bytes(b"b" * (2 << 20))
    os.utime(big, ns=(1_000_000_000, 1_000_000_000))
    assert io.sha256_file(big) == hashlib.sha256(b"b" * (2 << 20)).hexdigest() != first
    assert len(reads) == 4
