"""Exports re-opened with geopandas/fiona and compared with the in-memory results."""

import sqlite3

import fiona
import geopandas as gpd
import pandas as pd
import pytest

from landuse.export import RESULT_LAYERS, qml_style, short_names, unit_of, write_shapefiles


def test_geopackage_layers_styles_and_summary(tiny_run):
    res, out = tiny_run
    gpkg = out / "landuse.gpkg"
    layers = set(fiona.listlayers(gpkg))
    assert set(RESULT_LAYERS) <= layers and {"summary", "layer_styles", "metadata"} <= layers
    mem = res["suitability"].data
    for name in RESULT_LAYERS:
        back = gpd.read_file(gpkg, layer=name)
        assert len(back) == len(mem[name]) and back.crs.to_epsg() == 25833, name
    parcels = gpd.read_file(gpkg, layer="parcels")
    assert parcels["area_ha"].sum() == pytest.approx(mem["parcels"]["area_ha"].sum())
    assert "Südheim" in set(parcels["municipality"])  # umlauts survive
    with sqlite3.connect(gpkg) as db:
        styles = dict(db.execute("select f_table_name, styleQML from layer_styles").fetchall())
        registered = {r[0] for r in db.execute("select table_name from gpkg_contents")}
    assert set(RESULT_LAYERS) <= set(styles) and "layer_styles" in registered
    assert 'attr="score"' in styles["pv_eligible"] and "categorizedSymbol" in styles["parcels"]
    summary = gpd.read_file(gpkg, layer="summary")
    assert summary["emission_load_t_co2e_a"].max() == 70_000


def test_shapefiles_roundtrip(tiny_run):
    res, out = tiny_run
    folder = out / "shapefiles"
    fields = pd.read_csv(folder / "fields.csv")
    for name in RESULT_LAYERS:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml"):
            assert (folder / f"{name}{ext}").exists(), name + ext
        assert (folder / f"{name}.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
        back = gpd.read_file(folder / f"{name}.shp")
        mem = res["suitability"].data[name]
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

    for name in RESULT_LAYERS:
        root = ET.fromstring(qml_style(name, {"score": "wd_el_sc"}).split("\n", 1)[1])
        assert root.tag == "qgis" and root.find("renderer-v2") is not None
