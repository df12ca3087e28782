"""Exports re-opened with geopandas/fiona/openpyxl and compared with the in-memory results; the
QGIS and ogrinfo checks are in tests/test_qgis.py."""

import re
import sqlite3
import xml.etree.ElementTree as ET

import fiona
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Polygon

from landuse import technologies
from landuse.export import (
    CLASS_COLORS,
    MAX_AREA_CHANGE,
    clean_geometries,
    column_header,
    layer_description,
    layer_styles,
    qml_style,
    relative_paths,
    result_layer_names,
    score_classes,
    short_names,
    unit_of,
    write_shapefiles,
)

#: Sheets of landuse.xlsx besides the one per tier and frame.
SHEETS = {"overview", "Agri-PV", "trajectory", "suitability", "parameters", "fields", "all figures"}
TIER_SHEETS = {f"{tier} – {frame}" for tier in ("realistic", "technical") for frame in ("avoided emissions",
                                                                                           "territorial")}


def _memory(res):
    return {**res["suitability"].data, "allocation": res["balance"].data[2]}


def test_geopackage_layers_styles_and_summary(tiny_run):
    res, out = tiny_run
    gpkg = out / "landuse.gpkg"
    layers = set(fiona.listlayers(gpkg))
    assert set(result_layer_names()) <= layers and {"summary", "layer_styles", "metadata"} <= layers
    mem = _memory(res)
    for name in result_layer_names():
        back = gpd.read_file(gpkg, layer=name)
        assert len(back) == len(mem[name]) and back.crs.to_epsg() == 25833, name
    parcels = gpd.read_file(gpkg, layer="parcels")
    assert parcels["area_ha"].sum() == pytest.approx(mem["parcels"]["area_ha"].sum())
    assert "Südheim" in set(parcels["municipality"])  # umlauts survive
    with sqlite3.connect(gpkg) as db:
        styles = db.execute("select f_table_name, styleName, useAsDefault, styleQML from layer_styles").fetchall()
        contents = dict(db.execute("select table_name, description from gpkg_contents").fetchall())
        types = dict(db.execute("select table_name, geometry_type_name from gpkg_geometry_columns").fetchall())
        version = db.execute("pragma user_version").fetchone()[0]
        application = db.execute("pragma application_id").fetchone()[0]
    # GeoPackage 1.2, which GDAL 3.6 (QGIS 3.22) opens without a version warning
    assert (application, version) == (0x47504B47, 10200)
    # several styles per layer, one the default, named as layer_styles() says
    by_layer = {}
    for table, name, default, qml in styles:
        by_layer.setdefault(table, []).append((name, default, qml))
    assert set(by_layer) == set(result_layer_names())
    for table, entries in by_layer.items():
        assert [e[0] for e in entries] == [s.name for s in layer_styles(table)], table
        assert [bool(e[1]) for e in entries] == [True] + [False] * (len(entries) - 1), table
    parcel_styles = {name: qml for name, _, qml in by_layer["parcels"]}
    assert "categorizedSymbol" in parcel_styles["Land cover"] and 'attr="class"' in parcel_styles["Land cover"]
    for t in technologies.technologies():
        assert f'attr="{t.name}_score"' in parcel_styles[f"{t.title} score"]
        assert 'attr="score"' in by_layer[f"{t.name}_eligible"][0][2]
    # descriptions in gpkg_contents; every layer typed, also the empty ones
    assert all(contents[name] == layer_description(name) and contents[name] for name in contents if name in layers)
    assert types["parcels"] == "MULTIPOLYGON" and types["wind_turbines"] == "POINT"
    summary = gpd.read_file(gpkg, layer="summary")
    assert summary["emission_load_t_co2e_a"].max() == 70_000


def test_metadata_without_local_paths(tiny_run, tiny_region):
    _, out = tiny_run
    _, data = tiny_region
    meta = pyogrio.read_dataframe(out / "landuse.gpkg", layer="metadata").set_index("key")["value"]
    text = " ".join(meta)
    assert str(data) not in text and str(data.parent) not in text
    assert "osm/tiny.osm" in meta["sources"]  # relative to the data directory


def test_relative_paths():
    meta = {"sources": "boundaries: /srv/data/lw/boundaries/g.geojson (2016); osm: /srv/data/lw/osm/o.gpkg (2021)",
            "attribution": "© GeoBasis-DE / BKG 2016", "units": "t CO2e/a, ha/MWp, 1.3 %/2.0 %",
            "notes": "raster nfk (soil/n.tif) covers 62%"}
    rel = relative_paths(meta)
    assert rel["sources"] == "boundaries: boundaries/g.geojson (2016); osm: osm/o.gpkg (2021)"
    assert {k: rel[k] for k in ("attribution", "units", "notes")} == {k: meta[k] for k in ("attribution", "units",
                                                                                           "notes")}
    assert relative_paths({"p": "osm: /srv/data/lw/osm/o.gpkg"}, "/srv/data/lw") == {"p": "osm: osm/o.gpkg"}
    assert relative_paths({"p": r"C:\Users\me\data\soil\n.tif"}, r"C:\Users\me\data") == {"p": "soil/n.tif"}
    assert relative_paths({"p": "outside /home/me/x.tif"}, "/srv/data") == {"p": "outside x.tif"}


def test_cleanup_removes_near_duplicate_vertices_and_keeps_areas():
    # a vertex 1e-10 m from its neighbour (QGIS: duplicate node) and a hole 1e-9 m off the shell
    square = Polygon([(0, 0), (100, 0), (100, 100), (50, 100), (50 + 1e-10, 100), (0, 100)])
    touching = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(1e-9, 2), (3, 2), (3, 4), (1e-9, 4)]])
    gdf = gpd.GeoDataFrame({"a": [1, 2, 3]}, geometry=[square, touching, shapely.Point(1, 1)], crs=25833)
    cleaned = clean_geometries(gdf)
    assert len(cleaned) == 3 and list(cleaned["a"]) == [1, 2, 3]  # no row dropped
    assert cleaned.geometry.is_valid.all() and cleaned.geometry.iloc[2].equals(gdf.geometry.iloc[2])
    coords = shapely.get_coordinates(cleaned.geometry.iloc[0].exterior)
    assert np.hypot(*np.diff(coords, axis=0).T).min() > 1e-8
    assert np.allclose(cleaned.area, gdf.area, rtol=MAX_AREA_CHANGE)


def test_exported_geometries_valid_and_areas_kept(tiny_run):
    res, out = tiny_run
    mem = _memory(res)
    for name in result_layer_names():
        back = pyogrio.read_dataframe(out / "landuse.gpkg", layer=name)
        assert back.geometry.is_valid.all(), name
        if name != "wind_turbines" and len(back):
            before = mem[name].to_crs(25833).geometry.area.to_numpy()
            assert np.allclose(back.geometry.area.to_numpy(), before, rtol=1e-4, atol=1e-6), name  # within 0.01 %


def test_shapefiles_roundtrip(tiny_run):
    res, out = tiny_run
    folder = out / "shapefiles"
    fields = pd.read_csv(folder / "fields.csv", keep_default_na=False)
    assert list(fields.columns) == ["layer", "short_name", "long_name", "unit", "description", "type", "width",
                                    "decimals"]
    assert (fields["description"] != "").all()
    mem = _memory(res)
    for name in result_layer_names():
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml"):
            assert (folder / f"{name}{ext}").exists(), name + ext
        assert (folder / f"{name}.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
        back = gpd.read_file(folder / f"{name}.shp")
        assert len(back) == len(mem[name]) and back.crs.to_epsg() == 25833
        m = fields[fields["layer"] == name]
        assert m["short_name"].str.len().max() <= 10 and m["short_name"].str.lower().is_unique
        assert list(m["short_name"]) == [c for c in back.columns if c != "geometry"]
        # the .dbf's field widths and decimals are the ones fields.csv gives
        info = pyogrio.read_info(folder / f"{name}.shp")
        kinds = dict(zip(info["fields"], info["dtypes"], strict=True))
        for row in m.itertuples():
            assert kinds[row.short_name] == {"text": "object", "integer": "int32", "decimal": "float64"}[row.type], \
                (name, row.short_name, kinds[row.short_name])
    parcels = gpd.read_file(folder / "parcels.shp")
    pf = fields.query("layer == 'parcels'").set_index("long_name")
    short = pf["short_name"]
    ours = mem["parcels"].set_index("parcel_id")
    back = parcels.set_index(short["parcel_id"])
    assert back.loc[ours.index, short["area_ha"]].to_numpy() == pytest.approx(ours["area_ha"].to_numpy(), abs=0.005)
    assert set(back[short["municipality"]]) == {"Nordheim", "Südheim"}
    assert pf.loc["pv_eligible_ha", "unit"] == "ha" and pf.loc["pv_eligible_ha", "decimals"] == 2
    assert pf.loc["pv_score", "decimals"] == 1 and pf.loc["wind_turbines", "type"] == "integer"
    assert pf.loc["candidate", "type"] == "integer" and pf.loc["candidate", "width"] == 1
    # empty numbers stay empty (parcels without a score)
    scores = back.loc[ours.index, short["pv_score"]]
    assert scores.isna().to_numpy().tolist() == ours["pv_score"].isna().to_numpy().tolist()
    assert scores.dropna().to_numpy() == pytest.approx(ours["pv_score"].dropna().to_numpy(), abs=0.05)


def test_dbf_a_third_of_gdal_default(tiny_run, tmp_path):
    """Narrow fields: parcels.dbf at most a third of what GDAL writes by default (24.15 numbers,
    80-character text)."""
    _, out = tiny_run
    parcels = pyogrio.read_dataframe(out / "landuse.gpkg", layer="parcels")
    pyogrio.write_dataframe(parcels.rename(columns=short_names(list(parcels.columns[:-1]))), tmp_path / "p.shp",
                            encoding="UTF-8")
    default = (tmp_path / "p.dbf").stat().st_size
    assert (out / "shapefiles" / "parcels.dbf").stat().st_size <= default / 3


def test_dbf_read_by_gdal_and_fiona(tiny_run):
    _, out = tiny_run
    path = out / "shapefiles" / "parcels.shp"
    a = pyogrio.read_dataframe(path)
    with fiona.open(path) as src:
        b = pd.DataFrame([dict(f["properties"]) for f in src])
    assert list(a.columns[:-1]) == list(b.columns) and len(a) == len(b)
    for col in b.columns:
        x, y = a[col].tolist(), b[col].tolist()
        assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], col


def test_short_name_scheme():
    cols = ["agroforestry_sub_low_water_capacity", "agroforestry_sub_landscape_protection",
            "wind_excl_settlement_share", "wind_excl_single_building_share", "dist_building_group_m",
            "dist_building_group_mx", "area_ha", "wind_score", "pv_score", "agroforestry_score",
            "water_balance_1971_2000_mean", "water_balance_2031_2060_nodata_share", "wind_speed_100m_mean",
            "municipality", "wind_turbines_low"]
    a, b = short_names(cols), short_names(list(reversed(cols)))
    assert a == b  # order of the columns does not matter
    assert all(len(v) <= 10 for v in a.values()) and len({v.lower() for v in a.values()}) == len(cols)
    ab = {t.name: t.abbreviation for t in technologies.technologies()}
    # technology prefix + measure, the same measure for every technology
    assert [a[f"{t}_score"] for t in ("wind", "pv", "agroforestry")] == [f"{ab[t]}_score" for t in ab]
    assert a["wind_excl_settlement_share"] == f"{ab['wind']}_x_set"
    assert a["agroforestry_sub_landscape_protection"] == f"{ab['agroforestry']}_s_lsp"
    assert a["wind_turbines_low"] == f"{ab['wind']}_tb_lo"
    assert a["area_ha"] == "area_ha" and a["municipality"] == "muni" and a["dist_building_group_m"] == "d_bgrp_m"
    assert a["water_balance_1971_2000_mean"] == "wb71_mean" and a["water_balance_2031_2060_nodata_share"] == "wb31_nd"
    assert a["wind_speed_100m_mean"] == "ws100_mean"  # a raster, not a wind result
    same = short_names([f"{t.name}_{m}" for t in technologies.technologies()
                        for m in ("eligible_ha", "reason", "excl_settlement_share", "sub_landscape_protection")])
    measures = {}
    for long, name in same.items():
        t = next(t for t in technologies.technologies() if long.startswith(t.name + "_"))
        measures.setdefault(long[len(t.name) + 1:], set()).add(name[len(t.abbreviation) + 1:])
    assert all(len(v) == 1 for v in measures.values()), measures
    assert unit_of("wind_mwh_a") == "MWh/a" and unit_of("pv_score") == "0-100" and unit_of("nfk_mean") == "mm"
    assert unit_of("wind_turbines_low") == "count"


def test_palettes():
    techs = technologies.technologies()
    ramps = {t.name: [c for _, _, c, _ in score_classes(t)] for t in techs}
    rgb = {k: [np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in v] for k, v in ramps.items()}
    for t in techs:
        classes = score_classes(t)
        assert [(lo, hi) for lo, hi, _, _ in classes][0][0] == 0 and classes[-1][1] == 100
        assert all(a[1] == b[0] for a, b in zip(classes, classes[1:], strict=False))  # contiguous over 0–100
        assert all(t.title in label and label.endswith("points") for *_, label in classes)
        light = [int(sum(c)) for c in rgb[t.name]]
        assert light == sorted(light, reverse=True)  # light to dark with the score
    assert len({tuple(v) for v in ramps.values()}) == len(techs)  # a ramp per technology
    # the land-cover colours are none of the score colours, nor close to one
    score_rgb = [c for v in rgb.values() for c in v]
    for name, hex_color in CLASS_COLORS.items():
        c = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
        assert min(np.linalg.norm(c - s) for s in score_rgb) >= 40, name


def test_qml_is_xml():
    for name in result_layer_names():
        for style in layer_styles(name):
            root = ET.fromstring(qml_style(name, {"score": "wd_el_sc"}, style.key).split("\n", 1)[1])
            assert root.tag == "qgis" and root.find("renderer-v2") is not None
    qml = qml_style("wind_eligible", {"score": "score_x"})
    assert 'attr="score_x"' in qml and "Wind score 90–100 points" in qml


def test_workbook_for_spreadsheet_users(tiny_run):
    import openpyxl

    _, out = tiny_run
    book = openpyxl.load_workbook(out / "landuse.xlsx")
    assert SHEETS | TIER_SHEETS <= set(book.sheetnames)
    csv = pd.read_csv(out / "summary.csv")
    assert book["all figures"].max_row - 1 == len(csv)
    for ws in book.worksheets:
        headers = [c.value for c in ws[1]]
        assert ws.freeze_panes in ("A2", "B2"), ws.title
        if ws.title != "parameters":  # the parameter sheet is kept as it is
            assert not any("_" in h for h in headers), (ws.title, [h for h in headers if "_" in h])
        for j, cell in enumerate(ws[2], start=1):
            width = ws.column_dimensions[cell.column_letter].width
            assert width and width >= len(str(headers[j - 1]).split()[0]), (ws.title, headers[j - 1])
            for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                v = row[0].value
                if isinstance(v, float) and row[0].number_format not in ("General",):
                    shown = len(row[0].number_format.split(".")[1].rstrip("%")) if "." in row[0].number_format \
                        else 0
                    extra = 2 if row[0].number_format.endswith("%") else 0
                    assert round(v, shown + extra) == v, (ws.title, headers[j - 1], v)  # rounded, not 15 digits
    # shares as percentages: a number format, values fractions
    ws = book["realistic – avoided emissions"]
    headers = [c.value for c in ws[1]]
    j = headers.index(column_header("coverage_avoided_share")) + 1
    cells = [r[0] for r in ws.iter_rows(min_row=2, min_col=j, max_col=j)]
    assert all(c.number_format == "0.00%" and 0 <= c.value < 5 for c in cells if c.value is not None)
    assert "Load covered by avoided emissions and sinks (%)" in headers and "Emission load (t CO2e/a)" in headers
    # Agri-PV on its own sheet, not in the tier × frame sheets
    agri = [c.value for c in book["Agri-PV"][1]]
    assert any("Agri-PV" in h for h in agri)
    assert not any("Agri-PV" in str(c.value) for name in TIER_SHEETS for c in book[name][1])
    # the parameter sheet as it was: names, value, range, unit, source
    params = pd.read_excel(out / "landuse.xlsx", sheet_name="parameters", index_col=0)
    assert {"value", "low", "high", "unit", "source"} <= set(params.columns)


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


def test_dbf_written_in_chunks_equals_one_piece(tiny_run, tmp_path, monkeypatch):
    """Records are written a chunk at a time; the file does not depend on the chunk size."""
    import landuse.export as ex

    res, _ = tiny_run
    whole = write_shapefiles(res["suitability"].data, tmp_path / "whole")
    n = len(pyogrio.read_dataframe(whole / "parcels.dbf", read_geometry=False))
    monkeypatch.setattr(ex, "DBF_CHUNK_ROWS", 5)
    assert n > 3 * 5 and n % 5  # several chunks and a part of one
    chunked = write_shapefiles(res["suitability"].data, tmp_path / "chunked")
    for path in sorted(whole.glob("*.dbf")):
        assert (chunked / path.name).read_bytes() == path.read_bytes(), path.name


def test_layers_handed_to_gdal_in_chunks_equal_one_piece(tiny_run, tmp_path, monkeypatch):
    """GDAL gets a layer a slice of rows at a time (the first creates the layer, the others
    append): the GeoPackage holds the same features in the same order with the layer's
    description, and the Shapefiles are the same bytes."""
    import landuse.export as ex

    res, _ = tiny_run
    results = {**res["suitability"].data}
    whole = ex.export_all(results, tmp_path / "whole", summary=res["balance"].data[0], timestamp=STAMP)
    n = len(results["parcels"])
    monkeypatch.setattr(ex, "WRITE_CHUNK_ROWS", 4)
    assert n > 3 * 4 and n % 4  # several chunks and a part of one
    chunked = ex.export_all(results, tmp_path / "chunked", summary=res["balance"].data[0], timestamp=STAMP)
    for layer in ("parcels", "pv_eligible", "summary"):
        a = pyogrio.read_dataframe(whole["gpkg"], layer=layer, fid_as_index=True)
        b = pyogrio.read_dataframe(chunked["gpkg"], layer=layer, fid_as_index=True)
        pd.testing.assert_frame_equal(a, b)
    with sqlite3.connect(chunked["gpkg"]) as db:
        described = dict(db.execute("select table_name, description from gpkg_contents"))
        indexed = db.execute("select count(*) from rtree_parcels_geom").fetchone()[0]
    assert described["parcels"] == layer_description("parcels")
    assert indexed == n  # the spatial index holds every feature, also the appended ones
    for path in sorted(whole["shapefiles"].glob("*.sh[px]")):
        assert (chunked["shapefiles"] / path.name).read_bytes() == path.read_bytes(), path.name


def test_export_failing_midway_keeps_the_previous_geopackage_and_shapefiles(tiny_run, tmp_path, monkeypatch):
    """Layers go to both formats one at a time: a failure at the second layer's table must leave
    the previous GeoPackage and Shapefiles as they were, and no temporary file."""
    import landuse.export as ex

    res, _ = tiny_run
    results = {**res["suitability"].data}
    paths = ex.export_all(results, tmp_path, summary=res["balance"].data[0])
    gpkg, listing = paths["gpkg"].read_bytes(), sorted(p.name for p in paths["shapefiles"].iterdir())
    real, calls = ex.write_dbf, []

    def second_fails(*a, **k):
        calls.append(a[0])
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(ex, "write_dbf", second_fails)
    with pytest.raises(OSError, match="disk full"):
        ex.export_all(results, tmp_path, summary=res["balance"].data[0], timestamp=STAMP)
    assert len(calls) == 2
    assert paths["gpkg"].read_bytes() == gpkg
    assert sorted(p.name for p in paths["shapefiles"].iterdir()) == listing
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


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
    results = _memory(res)
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
        assert {f"parcels.{t.name}_score.qml" for t in technologies.technologies()} <= set(files)
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
        assert {"all figures", "suitability", "parameters", "fields"} | TIER_SHEETS <= set(sheets)
        props = openpyxl.load_workbook(first["xlsx"]).properties
        assert props.created.isoformat()[:19] == props.modified.isoformat()[:19] == STAMP[:19]


def test_units_in_headers():
    assert column_header("wind_mw") == "Wind capacity (MW)"
    assert column_header("coverage_territorial_share_high") == "Load covered in the territorial balance, high (%)"
    assert column_header("share_realised") == "Share of the potential realised (%)"
    assert re.fullmatch(r".+: eligible area \(ha\)", column_header("pv_eligible_ha"))


def test_shapefile_reasons_are_the_codes_of_the_exclusion_fields():
    from landuse.export import reason_codes, short_name

    got = reason_codes("wind_reason", pd.Series(["settlement;building_group", "land_cover_residential", "", None]))
    # a land cover the technology does not use has no share field: its class is named in full (fields.csv)
    assert got.iloc[0] == "set;bgrp" and got.iloc[1] == "lc_residential" and got.iloc[2] == "" and pd.isna(got.iloc[3])
    # each code is the field that holds the rule's excluded share
    assert short_name("wind_excl_settlement_share") == "wd_x_set"
    assert short_name("wind_excl_building_group_share") == "wd_x_bgrp"


def test_layers_reprojected_where_their_crs_differs_and_not_copied_where_not():
    from landuse.export import _layers

    square = Polygon([(400_000, 5_700_000), (400_100, 5_700_000), (400_100, 5_700_100), (400_000, 5_700_100)])
    working = gpd.GeoDataFrame({"score": np.array([0.5])}, geometry=[square], crs=25833)
    web = working.rename(columns={"score": "share"}).to_crs(4326)
    out = dict(_layers({"wind_eligible": working, "pv_eligible": web}))
    assert out["pv_eligible"].crs.to_epsg() == 25833
    assert out["pv_eligible"].geometry.area.iloc[0] == pytest.approx(10_000, rel=1e-6)  # m², back from degrees
    assert np.shares_memory(out["wind_eligible"]["score"].to_numpy(), working["score"].to_numpy())


@pytest.mark.parametrize("column", ["eligible_ha", "dist_settlement_m", "wind_excl_settlement_share", "x_unknown"])
def test_dbf_numbers_as_printf_writes_them(column):
    from landuse.export import dbf_field, decimals_of

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(0, 1e4, 2000), rng.uniform(-1, 1, 2000),
                             [0.0, -0.0, -0.004, 0.005, 2.675, 9.995, -9.999, 1e6, 999_999.0, 1_000_000.0, 1e-9,
                              np.nan, np.inf, -np.inf]])
    series = pd.Series(values)
    field = dbf_field("f", column, series)
    d = decimals_of(column, series)
    rounded = np.round(values, d) + 0.0
    texts = ["*" * field.width if not np.isfinite(v) else f"{v:.{d}f}".rjust(field.width) for v in rounded]
    assert field.decimals == d and field.type == "N"
    assert field.width == max(len(f"{v:.{d}f}") for v in rounded if np.isfinite(v))  # as narrow as the values
    assert [bytes(row).decode("ascii") for row in field.cells] == texts
    # beyond 2**52 in units of the last decimal each number is printed on its own: the same text
    huge = dbf_field("f", column, pd.Series([1e17, -3.5e16, np.nan]))
    assert bytes(huge.cells[0]).decode().strip() == f"{1e17:.{decimals_of(column, pd.Series([1e17]))}f}"
