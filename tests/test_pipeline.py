"""One orchestration path: every command writes the same files for the same inputs; stages
are reused from the cache and rerun when an input changes; user options win over defaults."""

import filecmp
import json
import os
import shutil
import sys

import pandas as pd
import pyogrio
import pytest
import yaml
from click.testing import CliRunner

from landuse import technologies
from landuse.cache import CACHE_DIRNAME
from landuse.cli import main
from landuse.criteria import load_rule_sets
from landuse.parameters import PARAMETER_DIR
from landuse.pipeline import run
from landuse.potential import parcel_potential


def _cli(*args):
    result = CliRunner().invoke(main, ["-q", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_export_and_run_give_identical_files(tiny_region, tmp_path):
    cfg, data = tiny_region
    common = ["--region", cfg, "--data", data, "--layers-dir", tmp_path / "layers"]
    _cli("run", *common, "--out", tmp_path / "a")
    _cli("export", *common, "--out", tmp_path / "b")
    a, b = tmp_path / "a", tmp_path / "b"
    files = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and CACHE_DIRNAME not in p.parts)
    names = {p.as_posix() for p in files}
    assert {"landuse.gpkg", "landuse.xlsx", "summary.csv", "land_stats.csv", "shapefiles/parcels.shp",
            "shapefiles/fields.csv"} <= names
    assert not any(n.startswith("map") for n in names)  # export writes no maps
    different = [n for n in map(str, files) if not filecmp.cmp(a / n, b / n, shallow=False)]
    assert different == []
    # the stage results are cached apart; parcels, score and balance write no deliverables
    assert (b / CACHE_DIRNAME / "stages.json").is_file()
    _cli("balance", *common, "--out", tmp_path / "c")
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [CACHE_DIRNAME]


@pytest.mark.skipif(not hasattr(os, "setpriority") or not sys.platform.startswith("linux"),
                    reason="nice values per thread are Linux's")
def test_land_statistics_run_beside_the_stages_at_the_lowest_priority(tiny_region, tiny_layers, tmp_path,
                                                                      monkeypatch):
    import threading

    import landuse.stats
    from landuse.pipeline import StageResult, context, land_rows_beside

    seen = {}
    land_rows = landuse.stats.municipal_land_rows
    direct = land_rows(tiny_layers)

    def rows(layers):
        seen["thread"] = threading.current_thread() is not threading.main_thread()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return land_rows(layers)

    monkeypatch.setattr(landuse.stats, "municipal_land_rows", rows)
    cfg, data = tiny_region
    ctx = context(cfg, data=data, layers_dir=tmp_path / "layers", out=tmp_path / "out")
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    collect = land_rows_beside(ctx, StageResult(tiny_layers, "k", False))
    got = collect()
    assert seen == {"thread": True, "nice": 19}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # the caller keeps its own
    pd.testing.assert_frame_equal(got, direct)
    assert got["land_area_ha"].sum() > 0


def test_stages_reused_and_rerun(tiny_region, tmp_path, monkeypatch):
    import landuse.factsheet

    cfg, data = tiny_region
    kwargs = {"data": data, "layers_dir": tmp_path / "layers", "out": tmp_path / "out"}
    monkeypatch.setenv("LANDUSE_THREADS", "2")
    started, real_start = [], landuse.factsheet.start_sheet_processes
    monkeypatch.setattr(landuse.factsheet, "start_sheet_processes",
                        lambda n: started.append(real_start(n)) or started[-1])
    first = run(cfg, **kwargs)
    assert not any(r.reused for r in first.values())
    # the layer store was built: the fact-sheet processes were started then, and drew the sheets
    assert len(started) == 1 and started[0].processes == 2
    with pytest.raises(RuntimeError):  # ended with their sheets
        started[0].pool.submit(int)
    # maps and exports are written while the fact-sheet processes draw: each kind is recorded
    records = json.loads((tmp_path / "out" / CACHE_DIRNAME / "stages.json").read_text(encoding="utf-8"))
    assert {"maps/default", "exports/default", "factsheets/default"} <= set(records)
    assert (tmp_path / "out" / "map.html").is_file() and list((tmp_path / "out" / "factsheets").glob("*.pdf"))
    second = run(cfg, **kwargs)
    assert all(r.reused for r in second.values())
    assert len(started) == 1  # nothing to draw: none started
    # a changed rule reruns scoring, balance and outputs only
    crit = tmp_path / "criteria"
    crit.mkdir()
    raw = yaml.safe_load(technologies.get("pv").rules_file.read_text(encoding="utf-8"))
    raw["eligible_classes"] = ["arable"]  # no PV on the meadow
    (crit / "pv.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    third = run(cfg, criteria=crit, **kwargs)
    assert {k: v.reused for k, v in third.items()} == {
        "layers": True, "parcels": True, "suitability": False, "balance": False, "outputs": False}
    assert third["suitability"].summary.loc["Region", "pv_eligible_ha"] < \
        first["suitability"].summary.loc["Region", "pv_eligible_ha"]
    assert len(started) == 1  # the store reused: the sheets' processes start with the sheets


def test_land_rows_computed_beside_the_stages_and_cached(tiny_region, tmp_path, monkeypatch):
    from landuse import stats
    from landuse.stats import municipal_land_rows

    cfg, data = tiny_region
    kwargs = {"data": data, "layers_dir": tmp_path / "layers", "out": tmp_path / "out"}
    first = run(cfg, **kwargs)
    records = json.loads((tmp_path / "out" / CACHE_DIRNAME / "stages.json").read_text(encoding="utf-8"))
    assert records["land"]["files"] == ["land/land_rows.parquet"]
    # every stage's record survives the land rows' (written last, from a fresh look at the cache)
    assert {"parcels", "suitability/default", "balance/default", "exports/default"} <= set(records)
    # the same figures as computed from the layers' features on the spot
    expected = municipal_land_rows(first["layers"].data)
    table = pd.read_csv(tmp_path / "out" / "land_stats.csv", index_col=0)
    for col in ("land_area_ha", "settlement_ha", "transport_ha", "vegetation_water_ha", "unmapped_ha"):
        assert table.loc[expected.index, col].to_numpy() == pytest.approx(expected[col].to_numpy(), abs=0.05)
    assert table.loc["Region", "land_area_ha"] > 0
    # a rerun of the exports (here: a changed parameter file) takes the land rows from the cache
    monkeypatch.setattr(stats, "municipal_land_rows", lambda *a, **k: pytest.fail("land rows computed again"))
    params = tmp_path / "potential.yaml"
    params.write_text((PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    again = run(cfg, parameters=params, **kwargs)
    assert not again["outputs"].reused
    assert pd.read_csv(tmp_path / "out" / "land_stats.csv", index_col=0).equals(table)


def test_turbine_size_from_the_rules_in_use(tiny_run):
    res, _ = tiny_run
    scored = res["suitability"].data["parcels"].set_index("parcel_id").copy()
    scored["wind_turbines"] = 0
    scored.iloc[:3, scored.columns.get_loc("wind_turbines")] = [1, 2, 1]
    rules = load_rule_sets()
    rules["wind"].values["rated_power_mw"] = 7.2
    pot = parcel_potential(scored, rule_sets=rules, options={})
    assert pot["wind_mw"].sum() == pytest.approx(4 * 7.2)


def test_parameters_sheet_from_the_file_in_use(tiny_region, tmp_path):
    cfg, data = tiny_region
    text = (PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8")
    mine = tmp_path / "mine.yaml"
    mine.write_text(text.replace("coppice_yield_t_dm_ha_a: {value: 7,", "coppice_yield_t_dm_ha_a: {value: 9,"),
                    encoding="utf-8")
    out = tmp_path / "out"
    _cli("export", "--region", cfg, "--data", data, "--layers-dir", tmp_path / "layers", "--out", out,
         "--parameters", mine)
    sheet = pd.read_excel(out / "landuse.xlsx", sheet_name="parameters", index_col=0)
    assert sheet.loc["coppice_yield_t_dm_ha_a", "value"] == 9
    meta = pyogrio.read_dataframe(out / "landuse.gpkg", layer="metadata").set_index("key")["value"]
    assert meta["parameters"].startswith("mine.yaml (sha256 ")  # no local path in the export
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    region = summary[(summary["level"] == "region") & (summary["share_realised"] == 1.0)].iloc[0]
    assert region["coppice_t_dm_a"] == pytest.approx(9 * region["coppice_planted_ha"])


def test_margin_from_the_rules_in_use(tiny_region, tmp_path):
    cfg, data = tiny_region
    crit = tmp_path / "criteria"
    crit.mkdir()
    raw = yaml.safe_load(technologies.get("pv").rules_file.read_text(encoding="utf-8"))
    raw["exclusions"][0].update(buffer=4500, high=5000)  # wider than the region's 3000 m margin
    (crit / "pv.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    res = run(cfg, data=data, layers_dir=tmp_path / "layers", out=tmp_path / "out", criteria=crit, until="layers")
    assert res["layers"].data.manifest["margin_m"] == 4500
    default = run(cfg, data=data, layers_dir=tmp_path / "layers2", out=tmp_path / "out2", until="layers")
    assert default["layers"].data.manifest["margin_m"] == 3000


def test_moved_output_folder_keeps_its_cache(tiny_region, tiny_run, tmp_path):
    cfg, data = tiny_region
    res, out = tiny_run
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    again = run(cfg, data=data, layers_dir=res["layers"].files[0].parent, out=moved)
    assert all(r.reused for r in again.values())


def test_siting_attributes_where_a_technology_of_the_run_can_site(tiny_run):
    res, _ = tiny_run
    parcels = res["parcels"].data
    sites = set(load_rule_sets()["wind"].eligible_classes) | set(load_rule_sets()["pv"].eligible_classes)
    assert {"industrial", "conversion"} <= sites  # beyond the open land
    is_site = parcels["class"].isin(sites)
    assert parcels["site"].tolist() == is_site.tolist()
    assert parcels.loc[is_site, "dist_settlement_m"].notna().all()
    assert parcels.loc[~is_site, "dist_settlement_m"].isna().all() and (~is_site).sum() > 0
    # the context parcels are in the model and the export still: their shape measures, no siting values
    assert parcels.loc[~is_site, "area_ha"].gt(0).all()


def test_part_flows_sum_each_use_own_outputs_in_both_frames():
    import geopandas as gpd
    import shapely

    from landuse.pipeline import _part_flows

    def flows(use):
        outs = [o for o in technologies.get(use).outputs if o.in_total and o.kind in ("avoided", "sequestered")]
        return [o.column for o in outs], [o.column for o in outs if o.territorial]

    columns = sorted({c for use in ("wind", "agroforestry") for c in flows(use)[0]})
    realistic = pd.DataFrame({c: [1.0 + i, 10.0 * (i + 1)] for i, c in enumerate(columns)}, index=["p1", "p2"])
    parts = gpd.GeoDataFrame({"use": ["agroforestry", "wind", "agroforestry"], "parcel_id": ["p2", "p1", "p1"]},
                             geometry=[shapely.box(0, 0, 10, 10)] * 3, crs="EPSG:25833")
    out = _part_flows(parts, realistic)
    for k, (use, pid) in enumerate(zip(parts["use"], parts["parcel_id"], strict=True)):
        every, territorial = flows(use)
        assert out["avoided_t_co2e_a"].iloc[k] == pytest.approx(sum(realistic.loc[pid, c] for c in every))
        assert out["territorial_t_co2e_a"].iloc[k] == pytest.approx(sum(realistic.loc[pid, c] for c in territorial))
    # wind replaces no local fossil heat: nothing of it lowers the territorial balance; coppice heat does
    assert out["territorial_t_co2e_a"].iloc[1] == 0.0
    assert out["territorial_t_co2e_a"].iloc[0] > 0.0
    assert list(out.index) == list(parts.index)
