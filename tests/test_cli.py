"""CLI: each subcommand and user errors (CliRunner)."""

import pytest
from click.testing import CliRunner

from landuse.cli import main


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_layers_then_reuse(runner, tiny_region, tmp_path):
    cfg, data = tiny_region
    r = runner.invoke(main, ["layers", "--region", str(cfg), "--data", str(data)])
    assert r.exit_code == 0, r.output
    assert "built" in r.output and (tmp_path / "layers" / "tiny.gpkg").exists()
    r = runner.invoke(main, ["layers", "--region", str(cfg), "--data", str(data)])
    assert r.exit_code == 0 and "reused (inputs unchanged)" in r.output


def test_stats_writes_csv(runner, tiny_region, tmp_path):
    cfg, data = tiny_region
    r = runner.invoke(main, ["stats", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0, r.output
    csv = (tmp_path / "outputs" / "tiny" / "land_stats.csv").read_text(encoding="utf-8")
    assert "Südheim" in csv and "transport_ha_baseline" in csv


def test_unknown_region(runner):
    r = runner.invoke(main, ["layers", "--region", "leipzig-wurzn"])
    assert r.exit_code == 1
    assert r.output.strip().startswith("Error: Unknown region 'leipzig-wurzn'")
    assert "Traceback" not in r.output


def test_missing_data_dir(runner, tiny_region):
    cfg, _ = tiny_region
    r = runner.invoke(main, ["layers", "-r", str(cfg), "--data", "nowhere"])
    assert r.exit_code == 1 and "nowhere (from --data) does not exist" in r.output


def test_verbose_shows_traceback(runner):
    r = runner.invoke(main, ["-v", "layers", "--region", "nope"])
    assert r.exit_code == 1 and r.exception is not None


def test_unwritable_output(runner, tiny_region, tmp_path):
    cfg, data = tiny_region
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # a folder cannot be made inside a file, even by root
    r = runner.invoke(main, ["stats", "-r", str(cfg), "-d", str(data), "--out", str(blocker / "out")])
    assert r.exit_code == 1 and "Cannot write to" in r.output and "Traceback" not in r.output


def test_parcels_and_score_reuse(runner, tiny_region, tmp_path):
    import geopandas as gpd

    cfg, data = tiny_region
    r = runner.invoke(main, ["parcels", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["score", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0, r.output
    gpkg = tmp_path / "outputs" / "tiny" / "landuse.gpkg"
    parcels = gpd.read_file(gpkg, layer="parcels")
    assert {"wind_score", "pv_score", "agroforestry_score", "wind_reason"} <= set(parcels.columns)
    for layer in ("wind_eligible", "wind_turbines", "pv_eligible", "agroforestry_eligible"):
        assert gpd.read_file(gpkg, layer=layer).crs.to_epsg() == 25833
    stamp = gpkg.stat().st_mtime_ns
    r = runner.invoke(main, ["score", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0 and gpkg.stat().st_mtime_ns == stamp  # nothing recomputed
    r = runner.invoke(main, ["score", "-r", str(cfg), "-d", str(data), "--scenario", "wind_750m"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "outputs" / "tiny" / "scenario-wind_750m" / "landuse.gpkg").exists()


def test_bad_rule_file(runner, tiny_region, tmp_path):
    cfg, data = tiny_region
    bad = tmp_path / "wind.yaml"
    bad.write_text("technology: wind\nexclusions:\n  - {name: x, layer: roads, buffer: -1, unit: m, source: s, "
                   "status: EST}\n")
    r = runner.invoke(main, ["score", "-r", str(cfg), "-d", str(data), "--criteria", str(bad)])
    assert r.exit_code == 1 and "buffer -1.0 m is negative" in r.output and "Traceback" not in r.output


def test_balance_snapshot_compare_and_woodchips(runner, tiny_region, tmp_path):
    import pandas as pd

    cfg, data = tiny_region
    r = runner.invoke(main, ["balance", "-r", str(cfg), "-d", str(data), "--snapshot"])
    assert r.exit_code == 0, r.output
    assert "Region: load 70,000 t CO2e/a" in r.output
    summary = pd.read_csv(tmp_path / "outputs" / "tiny" / "summary.csv", index_col=0)
    for col in ("pv_mwp", "pv_mwh_a", "wind_turbines", "wind_mw", "wind_mwh_a", "src_t_dm_a", "heat_mwh_a",
                "avoided_t_co2e_a", "sequestered_t_co2e_a", "emission_load_t_co2e_a", "coverage_share",
                "coverage_share_low", "coverage_share_high"):
        assert col in summary.columns, col
    assert sorted(summary["share_realised"].unique()) == [0.1, 0.25, 0.5, 1.0]
    snap = next((tmp_path / "outputs" / "tiny" / "monitoring").glob("balance_*.csv"))
    r = runner.invoke(main, ["balance", "-r", str(cfg), "-d", str(data), "--compare", str(snap)])
    assert r.exit_code == 0 and "No change against the snapshot." in r.output
    r = runner.invoke(main, ["balance", "-r", str(cfg), "-d", str(data), "--variants", "wind_750m,wind_no_forest"])
    assert r.exit_code == 0, r.output
    variants = pd.read_csv(tmp_path / "outputs" / "tiny" / "scenarios.csv")
    assert set(variants["rule_variant"]) == {"default", "wind_750m", "wind_no_forest"}
    assert len(variants) == 3 * 4 * 3  # variants × shares × (two groups + region)
    r = runner.invoke(main, ["woodchips", "-r", str(cfg), "-d", str(data), "--site", "Südheim", "--demand", "500"])
    assert r.exit_code == 0, r.output
    assert "harvest_and_chipping" in r.output and "saves" in r.output
    r = runner.invoke(main, ["woodchips", "-r", str(cfg), "-d", str(data), "--site", "Atlantis", "--demand", "5"])
    assert r.exit_code == 1 and "Heating site 'Atlantis'" in r.output


def test_run_map_export_and_reuse(runner, tiny_region, tmp_path):
    cfg, data = tiny_region
    r = runner.invoke(main, ["-q", "run", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0, r.output
    assert "Stages: layers built, parcels built, suitability built, balance built, outputs built" in r.output
    out = tmp_path / "outputs" / "tiny"
    for name in ("map.html", "landuse.gpkg", "shapefiles/parcels.shp", "summary.csv", "landuse.xlsx"):
        assert (out / name).exists(), name
    r = runner.invoke(main, ["-q", "run", "-r", str(cfg), "-d", str(data)])
    assert "layers reused, parcels reused, suitability reused, balance reused, outputs reused" in r.output
    # a changed rule file reruns scoring and what follows, not layers or parcels
    rules = tmp_path / "rules"
    rules.mkdir()
    from landuse.criteria import CRITERIA_DIR

    text = (CRITERIA_DIR / "pv.yaml").read_text(encoding="utf-8")
    (rules / "pv.yaml").write_text(text.replace("buffer: 100, unit: m, low: 50", "buffer: 150, unit: m, low: 50"))
    r = runner.invoke(main, ["-q", "run", "-r", str(cfg), "-d", str(data), "--criteria", str(rules)])
    assert "layers reused, parcels reused, suitability built, balance built, outputs built" in r.output, r.output
    r = runner.invoke(main, ["map", "-r", str(cfg), "-d", str(data), "--no-embed"])
    assert r.exit_code == 0 and "map_pv.html" in r.output
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet' in (out / "map.html").read_text(encoding="utf-8")
    r = runner.invoke(main, ["export", "-r", str(cfg), "-d", str(data)])
    assert r.exit_code == 0 and "shapefiles" in r.output
