"""Exports re-opened with geopandas/fiona and compared with the in-memory results."""

import sqlite3

import fiona
import geopandas as gpd
import pandas as pd
import pytest

from landuse.export import qml_style, result_layer_names, short_names, unit_of, write_shapefiles


def test_geopackage_layers_styles_and_summary(tiny_run):
    res, out = tiny_run
    gpkg = out / "landuse.gpkg"
    layers = set(fiona.listlayers(gpkg))
    assert set(result_layer_names()) <= layers and {"summary", "layer_styles", "metadata"} <= layers
    mem = {**res["suitability"].data, "allocation": res["balance"].data[2]}
    for name in result_layer_names():
        back = gpd.read_file(gpkg, layer=name)
        assert len(back) == len(mem[name]) and back.crs.to_epsg() == 25833, name
    parcels = gpd.read_file(gpkg, layer="parcels")
    assert parcels["area_ha"].sum() == pytest.approx(mem["parcels"]["area_ha"].sum())
    assert "Südheim" in set(parcels["municipality"])  # umlauts survive
    with sqlite3.connect(gpkg) as db:
        styles = dict(db.execute("select f_table_name, styleQML from layer_styles").fetchall())
        registered = {r[0] for r in db.execute("select table_name from gpkg_contents")}
    assert set(result_layer_names()) <= set(styles) and "layer_styles" in registered
    assert 'attr="score"' in styles["pv_eligible"] and "categorizedSymbol" in styles["parcels"]
    summary = gpd.read_file(gpkg, layer="summary")
    assert summary["emission_load_t_co2e_a"].max() == 70_000


def test_shapefiles_roundtrip(tiny_run):
    res, out = tiny_run
    folder = out / "shapefiles"
    fields = pd.read_csv(folder / "fields.csv")
    for name in result_layer_names():
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml"):
            assert (folder / f"{name}{ext}").exists(), name + ext
        assert (folder / f"{name}.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
        back = gpd.read_file(folder / f"{name}.shp")
        mem = {**res["suitability"].data, "allocation": res["balance"].data[2]}[name]
        assert len(back) == len(mem) and back.crs.to_epsg() == 25833
        m = fields[fields["layer"] == name]
        assert m["short_name"].str.len().max() <= 10 and m["short_name"].str.lower().is_unique
        assert set(m["short_name"]) == set(back.columns) - {"geometry"}
    parcels = gpd.read_file(folder / "parcels.shp")
    short = dict(zip(fields.query("layer == 'parcels'")["long_name"], fields.query("layer == 'parcels'")["short_name"],
                     strict=True))
    mem = res["suitability"].data["parcels"].set_index("parcel_id")
    back = parcels.set_index(short["parcel_id"])
    assert back.loc[mem.index, short["area_ha"]].to_numpy() == pytest.approx(mem["area_ha"].to_numpy())
    assert set(back[short["municipality"]]) == {"Nordheim", "Südheim"}
    assert fields.query("long_name == 'pv_eligible_ha'")["unit"].iloc[0] == "ha"


def test_workbook_and_csv(tiny_run):
    _, out = tiny_run
    sheets = pd.read_excel(out / "landuse.xlsx", sheet_name=None)
    assert {"summary", "suitability", "parameters", "fields"} <= set(sheets)
    csv = pd.read_csv(out / "summary.csv")
    assert len(csv) == len(sheets["summary"])


def test_short_names_stable_and_unique():
    cols = ["agroforestry_sub_low_water_capacity", "agroforestry_sub_landscape_protection",
            "wind_excl_settlement_share", "wind_excl_single_building_share", "dist_building_group_m",
            "dist_building_group_mx", "area_ha"]
    a, b = short_names(cols), short_names(list(reversed(cols)))
    assert a == b  # order of the columns does not matter
    assert all(len(v) <= 10 for v in a.values()) and len({v.lower() for v in a.values()}) == len(cols)
    assert a["area_ha"] == "area_ha"
    assert unit_of("wind_mwh_a") == "MWh/a" and unit_of("pv_score") == "0-100" and unit_of("nfk_mean") == "mm"


def test_interrupted_export_keeps_the_previous_one(tiny_run, tmp_path, monkeypatch):
    res, _ = tiny_run
    folder = write_shapefiles(res["suitability"].data, tmp_path / "shapefiles")
    before = sorted(p.name for p in folder.iterdir())

    import landuse.export as ex

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ex.pyogrio, "write_dataframe", boom)
    with pytest.raises(OSError):
        write_shapefiles(res["suitability"].data, folder)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_qml_is_xml():
    import xml.etree.ElementTree as ET

    for name in result_layer_names():
        root = ET.fromstring(qml_style(name, {"score": "wd_el_sc"}).split("\n", 1)[1])
        assert root.tag == "qgis" and root.find("renderer-v2") is not None


STAMP = "2020-01-31T12:00:00Z"  # not today: a date taken from the clock shows


@pytest.fixture(scope="module")
def two_exports(tiny_run, tmp_path_factory):
    """The same results exported twice with the same timestamp, a second apart by the clock."""
    import time

    from landuse.criteria import load_rule_sets
    from landuse.export import export_all
    from landuse.parameters import parameter_table
    from landuse.potential import potential_parameters

    res, _ = tiny_run
    summary, _, _ = res["balance"].data
    tables = {"suitability": res["suitability"].summary,
              "parameters": parameter_table(potential_parameters(load_rule_sets()))}
    metadata = {"region": "tiny", "crs": "EPSG:25833", "attribution": "; ".join(res["layers"].data.attribution)}
    base = tmp_path_factory.mktemp("twice")
    results = {**res["suitability"].data, "allocation": res["balance"].data[2]}
    first = export_all(results, base / "a", summary=summary, tables=tables, metadata=metadata,
                       timestamp=STAMP)
    time.sleep(1.1)  # no byte may depend on the clock
    second = export_all(results, base / "b", summary=summary, tables=tables, metadata=metadata,
                        timestamp=STAMP)
    return results, first, second


def _zip_members(path):
    """{member: (date, bytes)} of a zip archive (an .xlsx)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return {info.filename: (info.date_time, z.read(info)) for info in z.infolist()}


@pytest.mark.parametrize("kind", ["gpkg", "shapefiles", "xlsx"])
def test_same_inputs_and_timestamp_give_identical_files(two_exports, kind):
    results, first, second = two_exports
    if kind == "gpkg":
        assert first["gpkg"].read_bytes() == second["gpkg"].read_bytes()
        back = gpd.read_file(first["gpkg"], layer="parcels")
        assert len(back) == len(results["parcels"]) and back.crs.to_epsg() == 25833
        assert back["area_ha"].sum() == pytest.approx(results["parcels"]["area_ha"].sum())
        with sqlite3.connect(first["gpkg"]) as db:
            changed = {r[0][:19] for r in db.execute("select last_change from gpkg_contents")}
            styled = {r[0][:19] for r in db.execute("select update_time from layer_styles")}
        assert changed == styled == {STAMP[:19]}  # the given change date, not the clock's
    elif kind == "shapefiles":
        files = sorted(p.name for p in first["shapefiles"].iterdir())
        assert files == sorted(p.name for p in second["shapefiles"].iterdir())
        assert {f"{name}{ext}" for name in result_layer_names()
                for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml")} | {"fields.csv"} <= set(files)
        for name in files:
            assert (first["shapefiles"] / name).read_bytes() == (second["shapefiles"] / name).read_bytes(), name
        back = gpd.read_file(first["shapefiles"] / "parcels.shp")
        assert len(back) == len(results["parcels"]) and back.crs.to_epsg() == 25833
        # bytes 1-3 of a .dbf are its last-update date (years since 1900, month, day): the given
        # date, or an export of the same inputs on another day gives other bytes
        for name in result_layer_names():
            y, m, d = (first["shapefiles"] / f"{name}.dbf").read_bytes()[1:4]
            assert (1900 + y, m, d) == (2020, 1, 31), f"{name}.dbf dated {1900 + y}-{m:02d}-{d:02d}"
    else:
        import openpyxl

        assert first["summary_csv"].read_bytes() == second["summary_csv"].read_bytes()
        a, b = _zip_members(first["xlsx"]), _zip_members(second["xlsx"])
        assert list(a) == list(b)
        assert [m for m in a if a[m] != b[m]] == []  # the workbook parts that differ
        assert first["xlsx"].read_bytes() == second["xlsx"].read_bytes()
        sheets = pd.read_excel(first["xlsx"], sheet_name=None)
        assert {"summary", "suitability", "parameters", "fields"} <= set(sheets)
        props = openpyxl.load_workbook(first["xlsx"]).properties
        assert props.created.isoformat()[:19] == props.modified.isoformat()[:19] == STAMP[:19]
