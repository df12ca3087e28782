"""CLI: each subcommand and user errors (CliRunner on landuse.cli.main).

Every command runs the one pipeline (landuse.pipeline.run); stage results go to the stage
cache ``<out>/.landuse-cache/``; only ``export``, ``map`` and ``run`` write deliverables.
"""

import re
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import X0, Y0
from shapely.geometry import box

from landuse.cache import CACHE_DIRNAME
from landuse.cli import main
from landuse.parameters import PARAMETER_DIR
from landuse.technologies import BUILTIN
from landuse.technologies import get as technology


@pytest.fixture()
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default path left out still lands in the test's folder
    return CliRunner()


@pytest.fixture(scope="module")
def layers_dir(tiny_region, tmp_path_factory):
    """A layer store of the tiny region, built once; the commands of this module reuse it."""
    from landuse.pipeline import run

    cfg, data = tiny_region
    folder = tmp_path_factory.mktemp("cli-layers")
    run(cfg, data=data, layers_dir=folder, out=tmp_path_factory.mktemp("cli-layers-out"), until="layers")
    return folder


def _args(tiny_region, out, layers_dir) -> list[str]:
    cfg, data = tiny_region
    return ["-r", str(cfg), "-d", str(data), "--out", str(out), "--layers-dir", str(layers_dir)]


def _one_line_error(r, message: str) -> None:
    """Exit 1, one line ``Error: <message>…``, no traceback."""
    assert r.exit_code == 1, r.output
    assert isinstance(r.exception, SystemExit), r.exception
    assert r.output.startswith(f"Error: {message}"), r.output
    assert r.output.count("\n") == 1 and r.output.endswith("\n"), r.output
    assert "Traceback" not in r.output


def test_layers_then_reuse(runner, tiny_region, tmp_path):
    layers = tmp_path / "store"
    args = _args(tiny_region, tmp_path / "out", layers)
    r = runner.invoke(main, ["layers", *args])
    assert r.exit_code == 0, r.output
    assert f"Layer store {layers / 'tiny.gpkg'} built" in r.output and (layers / "tiny.gpkg").exists()
    assert re.search(r"landcover\s+7 features", r.output)
    r = runner.invoke(main, ["layers", *args])
    assert r.exit_code == 0 and "reused (inputs unchanged)" in r.output
    assert not (tmp_path / "out").exists()  # the layer store is no deliverable


def test_stats_prints_and_writes_nothing(runner, tiny_region, tmp_path, layers_dir):
    out = tmp_path / "out"
    r = runner.invoke(main, ["stats", *_args(tiny_region, out, layers_dir)])
    assert r.exit_code == 0, r.output
    assert "Südheim" in r.output and "computed  baseline  diff%" in r.output
    # the group South beside its baseline (tiny.yaml): land 200, settlement 20, transport 15, vegetation 165 ha
    south = next(line for line in r.output.splitlines() if line.startswith("South "))
    cells = [float("nan") if c == "-" else float(c.replace(",", "")) for c in south.split()[1:]]
    assert cells[1:12:3] == [200, 20, 15, 165]
    assert cells[0] == pytest.approx(200, abs=0.5)  # computed land area: the 2 km × 1 km municipality
    # settlement + transport + vegetation & water + unmapped (no baseline category) add up to the land area
    assert cells[3] + cells[6] + cells[9] + cells[12] == pytest.approx(cells[0], abs=1)
    assert not out.exists()  # stats only prints (export writes land_stats.csv)


def test_unknown_region(runner):
    r = runner.invoke(main, ["layers", "--region", "leipzig-wurzn"])
    _one_line_error(r, "Unknown region 'leipzig-wurzn'")
    assert "Did you mean leipzig-wurzen" in r.output


def test_missing_data_dir(runner, tiny_region, tmp_path):
    cfg, _ = tiny_region
    r = runner.invoke(main, ["layers", "-r", str(cfg), "--data", "nowhere", "--layers-dir", str(tmp_path / "l")])
    _one_line_error(r, "Data directory nowhere (from --data) does not exist")


def test_verbose_shows_traceback(runner):
    r = runner.invoke(main, ["-v", "layers", "--region", "nope"])
    assert r.exit_code == 1 and r.exception is not None and not isinstance(r.exception, SystemExit)


@pytest.mark.parametrize("command", ["parcels", "export", "run"])
def test_unwritable_output(runner, tiny_region, tmp_path, layers_dir, command):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # a folder cannot be made inside a file, even by root
    r = runner.invoke(main, [command, *_args(tiny_region, blocker / "out", layers_dir)])
    _one_line_error(r, f"Cannot write to {blocker / 'out'}")


def test_unwritable_layer_store(runner, tiny_region, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    r = runner.invoke(main, ["layers", *_args(tiny_region, tmp_path / "out", blocker / "layers")])
    _one_line_error(r, f"Cannot write to {blocker / 'layers'}")


def test_parcels_and_score_reuse(runner, tiny_region, tmp_path, layers_dir):
    out = tmp_path / "out"
    args = _args(tiny_region, out, layers_dir)
    r = runner.invoke(main, ["parcels", *args])
    assert r.exit_code == 0, r.output
    assert "9 parcels (6 candidates" in r.output and "Nordheim" in r.output
    r = runner.invoke(main, ["score", *args])
    assert r.exit_code == 0, r.output
    assert "Stages: layers reused, parcels reused, suitability built" in r.output
    # no deliverables: the results are in the stage cache
    assert sorted(p.name for p in out.iterdir()) == [CACHE_DIRNAME]
    cache = out / CACHE_DIRNAME / "suitability" / "default"
    parcels = gpd.read_parquet(cache / "parcels.parquet")
    assert {"wind_score", "pv_score", "agroforestry_score", "wind_reason"} <= set(parcels.columns)
    for layer in ("wind_eligible", "wind_turbines", "pv_eligible", "agroforestry_eligible"):
        assert gpd.read_parquet(cache / f"{layer}.parquet").crs.to_epsg() == 25833
    stamp = (cache / "parcels.parquet").stat().st_mtime_ns
    r = runner.invoke(main, ["score", *args])
    assert r.exit_code == 0 and "layers reused, parcels reused, suitability reused" in r.output
    assert (cache / "parcels.parquet").stat().st_mtime_ns == stamp  # nothing recomputed
    r = runner.invoke(main, ["score", *args, "--scenario", "wind_750m"])
    assert r.exit_code == 0, r.output
    assert "parcels reused, suitability built" in r.output
    variant = gpd.read_parquet(out / CACHE_DIRNAME / "suitability" / "wind_750m" / "parcels.parquet")
    assert variant["wind_eligible_ha"].sum() > parcels["wind_eligible_ha"].sum()  # 750 m instead of 1000 m
    assert not (out / "scenario-wind_750m").exists()
    # the scenario's deliverables go to their own folder, once exported
    r = runner.invoke(main, ["export", *args, "--scenario", "wind_750m"])
    assert r.exit_code == 0, r.output
    exported = gpd.read_file(out / "scenario-wind_750m" / "landuse.gpkg", layer="parcels")
    assert exported["wind_eligible_ha"].sum() == pytest.approx(variant["wind_eligible_ha"].sum())
    assert not (out / "landuse.gpkg").exists()


def test_bad_rule_file(runner, tiny_region, tmp_path):
    bad = tmp_path / "wind.yaml"
    bad.write_text("technology: wind\neligible_classes: [arable]\nexclusions:\n"
                   "  - {name: x, layer: roads, buffer: -1, unit: m, source: s, status: EST}\n")
    layers = tmp_path / "layers"
    r = runner.invoke(main, ["score", *_args(tiny_region, tmp_path / "out", layers), "--criteria", str(bad)])
    _one_line_error(r, f"{bad}: exclusions[x].buffer: -1 must be >= 0 (a number of metres >= 0 or an arithmetic "
                       "expression of named values")
    assert not layers.exists()  # rejected before any work


# --- one-line messages for mistakes in the user's files -------------------------------------


def _copy_criteria(folder, technology_name: str, old: str, new: str):
    """A copy of the shipped rule files in ``folder`` with ``old`` replaced by ``new`` in one of them."""
    folder.mkdir()
    for name in BUILTIN:
        shutil.copy(technology(name).rules_file, folder / f"{name}.yaml")
    path = folder / f"{technology_name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


SETTLEMENT = "where: \"`class` == 'residential'\", buffer: 1000, repowering_buffer: \"2 * total_height_m\", unit: m, " \
             "low: 750, high: 1000, status: SRC, source: \"SächsBO §84(2) (2022): 1000 m to residential"


def _where_typo(tmp_path, cfg):
    path = _copy_criteria(tmp_path / "my-criteria", "wind", SETTLEMENT,
                          SETTLEMENT.replace("`class` ==", "clas =="))
    return (["score", "--criteria", str(path.parent)],
            f"{path}: exclusions[settlement].where: \"clas == 'residential'\" reads 'clas', which layer landcover "
            "lacks. Did you mean 'class'? Columns: class, subclass.")


def _score_map_500(tmp_path, cfg):
    path = _copy_criteria(tmp_path / "my-criteria", "wind", "map: {arable: 100,", "map: {arable: 500,")
    return (["run", "--criteria", str(path.parent)],
            f"{path}: scores[land_cover].map.arable: 500 must be <= 100 (a score lies in 0…100)")


def _buffer_out_of_range(tmp_path, cfg):
    path = _copy_criteria(tmp_path / "my-criteria", "wind", SETTLEMENT,
                          SETTLEMENT.replace("buffer: 1000,", "buffer: 5000,"))
    return (["balance", "--criteria", str(path.parent)],
            f"{path}: exclusions[settlement]: buffer 5000 lies outside its range 750…1000 (change the value, or the "
            "range with its source, or run with --allow-out-of-range)")


def _unknown_value(tmp_path, cfg):
    path = _copy_criteria(tmp_path / "my-criteria", "wind", "rotor_diameter_m: {value: 160",
                          "rotor_diametre_m: {value: 160")
    return (["score", "--criteria", str(path.parent)],
            f"{path}: turbine.rotor_diametre_m: unknown value for wind. Did you mean 'rotor_diameter_m'? wind reads: "
            "rated_power_mw, rotor_diameter_m, hub_height_m, total_height_m, main_wind_direction_deg, "
            "spacing_along_d, spacing_across_d, footprint_ha, approach_inner_edge_m, approach_offset_m, "
            "approach_divergence, approach_length_m, runway_min_length_m, repowering_max_mw, repowering_max_hub_m, "
            "repowering_radius_total_heights, roughness_length_m, weibull_k, wind_speed_correction, wake_loss, "
            "availability.")


def _misspelt_parameter(tmp_path, cfg):
    path = tmp_path / "my-potential.yaml"
    text = (PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8")
    assert text.count("wind_full_load_hours_h_a:") == 1
    path.write_text(text.replace("wind_full_load_hours_h_a:", "wind_full_load_hour_h_a:"), encoding="utf-8")
    return (["balance", "--parameters", str(path)],
            f"{path}: unknown parameter 'wind_full_load_hour_h_a'; did you mean 'wind_full_load_hours_h_a'? known: ")


def _municipalities_null(tmp_path, cfg):
    path = tmp_path / "my-region.yaml"
    text = cfg.read_text(encoding="utf-8")
    block = text[text.index("municipalities:\n"):text.index("baseline:")]
    path.write_text(text.replace(block, "municipalities: null\n"), encoding="utf-8")
    return (["run", "-r", str(path)],
            f"{path}: municipalities: null must be a list (give at least one municipality, e.g. - "
            "{name: Leipzig, ags: \"14713000\"})")


def _region_yaml_syntax(tmp_path, cfg):
    path = tmp_path / "my-region.yaml"
    text = cfg.read_text(encoding="utf-8").replace("title: Tiny test region\n", "title: Tiny test region: east\n")
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    line = next(i for i, s in enumerate(lines) if s.startswith("title:"))
    column = lines[line].index(": east")
    return (["run", "-r", str(path)], f"{path}:{line + 1}:{column + 1}: mapping values are not allowed here")


def _criteria_yaml_syntax(tmp_path, cfg):
    path = _copy_criteria(tmp_path / "my-criteria", "pv", "min_patch_ha: {value: 3,", "min_patch_ha: {value: 3,,")
    line = next(i for i, s in enumerate(path.read_text(encoding="utf-8").splitlines()) if "value: 3,," in s)
    column = len("min_patch_ha: {value: 3,")
    return (["score", "--criteria", str(path.parent)],
            f"{path}:{line + 1}:{column + 1}: expected the node content, but found ','")


@pytest.mark.parametrize("case", [_where_typo, _score_map_500, _buffer_out_of_range, _unknown_value,
                                  _misspelt_parameter, _municipalities_null, _region_yaml_syntax,
                                  _criteria_yaml_syntax], ids=lambda f: f.__name__.strip("_"))
def test_mistakes_in_user_files(runner, tiny_region, tmp_path, case):
    cfg, data = tiny_region
    command, message = case(tmp_path, cfg)
    layers, out = tmp_path / "layers", tmp_path / "out"
    r = runner.invoke(main, [command[0], "-r", str(cfg), "-d", str(data), "--out", str(out), "--layers-dir",
                             str(layers), *command[1:]])
    _one_line_error(r, message)
    assert not layers.exists() and not out.exists()  # found when the files are loaded, before any work


def test_allow_out_of_range_runs_and_records_it(runner, tiny_region, tmp_path, layers_dir):
    import pyogrio

    path = _copy_criteria(tmp_path / "my-criteria", "wind", SETTLEMENT,
                          SETTLEMENT.replace("buffer: 1000,", "buffer: 1200,"))
    out = tmp_path / "out"
    r = runner.invoke(main, ["export", *_args(tiny_region, out, layers_dir), "--criteria", str(path.parent),
                             "--allow-out-of-range"])
    assert r.exit_code == 0, r.output
    meta = pyogrio.read_dataframe(out / "landuse.gpkg", layer="metadata", read_geometry=False)
    recorded = meta.set_index(meta.columns[0]).iloc[:, 0].to_dict()["out_of_range"]
    # the metadata names the file without local folders (it lies outside the data directory)
    assert recorded == "wind.yaml: exclusions[settlement]: buffer 1200 lies outside its range 750…1000"
    r = runner.invoke(main, ["export", *_args(tiny_region, tmp_path / "out2", layers_dir)])
    meta = pyogrio.read_dataframe(tmp_path / "out2" / "landuse.gpkg", layer="metadata", read_geometry=False)
    assert meta.set_index(meta.columns[0]).iloc[:, 0].to_dict()["out_of_range"].startswith("none")


def test_balance_snapshot_compare_and_woodchips(runner, tiny_region, tmp_path, layers_dir):
    out = tmp_path / "out"
    args = _args(tiny_region, out, layers_dir)
    r = runner.invoke(main, ["balance", *args, "--snapshot"])
    assert r.exit_code == 0, r.output
    assert "Region (realistic tier, 100% realised): load 70,000 t CO2e/a" in r.output
    assert "Region (technical tier, 100% realised): load 70,000 t CO2e/a" in r.output
    assert not (out / "summary.csv").exists()  # balance prints; export writes summary.csv
    snap = next((out / "monitoring").glob("balance_*.csv"))
    r = runner.invoke(main, ["balance", *args, "--compare", str(snap)])
    assert r.exit_code == 0 and "No change against the snapshot." in r.output
    r = runner.invoke(main, ["balance", *args, "--variants", "wind_750m,wind_no_forest"])
    assert r.exit_code == 0, r.output
    variants = pd.read_csv(out / "scenarios.csv")
    assert set(variants["rule_variant"]) == {"default", "wind_750m", "wind_no_forest"}
    assert len(variants) == 3 * 4 * 3  # variants × shares × (two groups + region)
    r = runner.invoke(main, ["export", *args])
    assert r.exit_code == 0, r.output
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    for col in ("pv_mwp", "pv_mwh_a", "wind_turbines", "wind_mw", "wind_mwh_a", "coppice_t_dm_a", "heat_mwh_a",
                "avoided_t_co2e_a", "sequestered_t_co2e_a", "emission_load_t_co2e_a", "coverage_avoided_share",
                "coverage_avoided_share_low", "coverage_avoided_share_high", "territorial_t_co2e_a",
                "coverage_territorial_share", "local_electricity_mwh_a", "tier"):
        assert col in summary.columns, col
    assert sorted(summary["share_realised"].unique()) == [0.1, 0.25, 0.5, 1.0]
    region = summary[(summary["level"] == "region") & (summary["share_realised"] == 1.0)]
    assert region["tier"].tolist() == ["realistic", "technical"]  # the realistic tier first
    assert region["emission_load_t_co2e_a"].tolist() == [70_000, 70_000]
    r = runner.invoke(main, ["woodchips", *args, "--site", "Südheim", "--demand", "500"])
    assert r.exit_code == 0, r.output
    assert "harvest_and_chipping" in r.output and "saves" in r.output
    r = runner.invoke(main, ["woodchips", *args, "--site", "Atlantis", "--demand", "5"])
    _one_line_error(r, "Heating site 'Atlantis'")


def test_run_map_export_and_reuse(runner, tiny_region, tmp_path):
    out = tmp_path / "out"
    args = _args(tiny_region, out, tmp_path / "layers")
    r = runner.invoke(main, ["-q", "run", *args])
    assert r.exit_code == 0, r.output
    assert "Stages: layers built, parcels built, suitability built, balance built, outputs built" in r.output
    for name in ("map.html", "map_wind.html", "landuse.gpkg", "shapefiles/parcels.shp", "summary.csv",
                 "landuse.xlsx", "land_stats.csv"):
        assert (out / name).exists(), name
    r = runner.invoke(main, ["-q", "run", *args])
    assert "layers reused, parcels reused, suitability reused, balance reused, outputs reused" in r.output
    # a changed rule file reruns scoring and what follows, not layers or parcels
    rules = tmp_path / "rules"
    rules.mkdir()
    text = technology("pv").rules_file.read_text(encoding="utf-8")
    assert text.count("buffer: 100, unit: m, low: 50") == 1
    (rules / "pv.yaml").write_text(text.replace("buffer: 100, unit: m, low: 50", "buffer: 150, unit: m, low: 50"),
                                   encoding="utf-8")
    r = runner.invoke(main, ["-q", "run", *args, "--criteria", str(rules)])
    assert "layers reused, parcels reused, suitability built, balance built, outputs built" in r.output, r.output
    stamp = (out / "landuse.gpkg").stat().st_mtime_ns
    r = runner.invoke(main, ["map", *args, "--no-embed"])
    assert r.exit_code == 0 and "map_pv.html" in r.output and "landuse.gpkg" not in r.output
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet' in (out / "map.html").read_text(encoding="utf-8")
    assert (out / "landuse.gpkg").stat().st_mtime_ns == stamp  # map writes maps only
    r = runner.invoke(main, ["export", *args])
    assert r.exit_code == 0 and "shapefiles" in r.output and "land_stats.csv" in r.output
    stats = pd.read_csv(out / "land_stats.csv", index_col=0)
    assert "Südheim" in stats.index and "transport_ha_baseline" in stats.columns
    assert stats.loc["South", "transport_ha_baseline"] == 15


@pytest.fixture(scope="module")
def finished(tiny_region, layers_dir, tmp_path_factory):
    """A complete export of the tiny region; the broken inputs below must leave it as it is."""
    out = tmp_path_factory.mktemp("finished") / "out"
    r = CliRunner().invoke(main, ["-q", "export", *_args(tiny_region, out, layers_dir)])
    assert r.exit_code == 0, r.output
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _degrees_as_metres(base: Path, cfg: Path, data: Path):
    gdf = gpd.read_file(data / "boundaries" / "gemeinden.geojson")  # lon/lat …
    gdf.set_crs("EPSG:25833", allow_override=True).to_file(data / "boundaries" / "wrong.gpkg")  # … said to be metres
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("boundaries/gemeinden.geojson", "boundaries/wrong.gpkg"),
                   encoding="utf-8")
    return ["export"], f"{data / 'boundaries' / 'wrong.gpkg'}: its CRS is EPSG:25833 (metres) but its coordinates"


def _utm_labelled_gauss_krueger(base: Path, cfg: Path, data: Path):
    gdf = gpd.read_file(data / "boundaries" / "gemeinden.geojson").to_crs("EPSG:31468")  # Gauss-Krüger zone 4 …
    gdf.set_crs("EPSG:25833", allow_override=True).to_file(data / "boundaries" / "gk.gpkg")  # … said to be UTM 33
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("boundaries/gemeinden.geojson", "boundaries/gk.gpkg"),
                   encoding="utf-8")
    return ["export"], f"{data / 'boundaries' / 'gk.gpkg'}: its coordinates (4,"


def _cp1252_shapefile_without_cpg(base: Path, cfg: Path, data: Path):
    path = data / "schutzgebiete.shp"
    gpd.GeoDataFrame({"NAME": ["Auwald – Nord"]}, geometry=[box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 400)],
                     crs="EPSG:25833").to_file(path, encoding="cp1252")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # an old export without its code page
    cfg.write_text(cfg.read_text(encoding="utf-8") + "  files:\n    - {layer: protected_areas, "
                   "path: schutzgebiete.shp, value: LSG, name_field: NAME}\n", encoding="utf-8")
    return ["export"], f"{path}: column 'NAME' holds control characters"


def _truncated_raster(base: Path, cfg: Path, data: Path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    path = data / "nfk.tif"
    with rasterio.open(path, "w", driver="GTiff", height=50, width=50, count=1, dtype="float32", crs="EPSG:25833",
                       transform=from_origin(X0, Y0 + 2000, 40, 40)) as dst:
        dst.write(np.full((1, 50, 50), 120, dtype="float32"))
    path.write_bytes(path.read_bytes()[:300])  # a half-copied file
    cfg.write_text(cfg.read_text(encoding="utf-8") + "  rasters:\n    nfk: {path: nfk.tif, unit: mm}\n",
                   encoding="utf-8")
    return ["export"], f"Raster {path} is not a readable raster file"


def _truncated_boundaries(base: Path, cfg: Path, data: Path):
    gdf = gpd.read_file(data / "boundaries" / "gemeinden.geojson")
    gdf.to_file(data / "boundaries" / "cut.gpkg")
    (data / "boundaries" / "cut.gpkg").write_bytes((data / "boundaries" / "cut.gpkg").read_bytes()[:4096])
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("boundaries/gemeinden.geojson", "boundaries/cut.gpkg"),
                   encoding="utf-8")
    return ["export"], f"{data / 'boundaries' / 'cut.gpkg'}: not a readable GIS file ("


def _duplicate_parcel_ids(base: Path, cfg: Path, data: Path):
    gpd.GeoDataFrame({"fsk": ["A", "A"]}, geometry=[box(X0 + 100, Y0 + 600, X0 + 500, Y0 + 900),
                                                    box(X0 + 600, Y0 + 600, X0 + 900, Y0 + 900)],
                     crs="EPSG:25833").to_file(data / "flurstuecke.gpkg")
    cfg.write_text(cfg.read_text(encoding="utf-8") + "  parcels: {path: flurstuecke.gpkg, id_field: fsk}\n",
                   encoding="utf-8")
    return ["export"], f"{data / 'flurstuecke.gpkg'}: 1 ids in 'fsk' are given to more than one parcel (e.g. 'A')"


def _negative_demand(base: Path, cfg: Path, data: Path):
    return ["woodchips", "--site", "Südheim", "--demand", "-2000"], "Heat demand -2000 MWh/a: give the network's"


def _site_mid_atlantic(base: Path, cfg: Path, data: Path):
    return ["woodchips", "--site", "-30,10", "--demand", "500"], "Heating site '-30,10' lies "


@pytest.mark.parametrize("case", [_degrees_as_metres, _utm_labelled_gauss_krueger, _cp1252_shapefile_without_cpg,
                                  _truncated_raster, _truncated_boundaries, _duplicate_parcel_ids,
                                  _negative_demand, _site_mid_atlantic], ids=lambda f: f.__name__.strip("_"))
def test_broken_data_is_one_line_and_changes_nothing(runner, tiny_region, layers_dir, finished, tmp_path, case):
    cfg, data = tiny_region
    mine_data = tmp_path / "data"
    shutil.copytree(data, mine_data)
    mine_cfg = tmp_path / "tiny.yaml"
    mine_cfg.write_text(cfg.read_text(encoding="utf-8"), encoding="utf-8")
    command, message = case(tmp_path, mine_cfg, mine_data)
    # the user's layer store and outputs are those of the finished run: nothing of them may change
    store = layers_dir.parent / f"{layers_dir.name}-copy-{case.__name__}"
    shutil.copytree(layers_dir, store)
    before_out, before_store = _files(finished), _files(store)
    r = runner.invoke(main, [command[0], "-r", str(mine_cfg), "-d", str(mine_data), "--out", str(finished),
                             "--layers-dir", str(store), *command[1:]])
    _one_line_error(r, message)
    assert _files(finished) == before_out and _files(store) == before_store


@pytest.mark.parametrize(("verbosity", "landuse_level", "font_level"),
                         [(0, "WARNING", "WARNING"), (1, "INFO", "WARNING"), (2, "DEBUG", "DEBUG")])
def test_verbose_logging_keeps_library_chatter_out_until_vv(verbosity, landuse_level, font_level):
    import logging

    from landuse.cli import _setup_logging

    _setup_logging(verbosity)
    try:
        assert logging.getLevelName(logging.getLogger().level) == landuse_level
        # fontTools logs every glyph of the fact sheets' font subsets at INFO
        for name in ("fontTools", "matplotlib", "pyogrio"):
            assert logging.getLevelName(logging.getLogger(name).level) == font_level
    finally:
        _setup_logging(0)
