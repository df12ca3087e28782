"""Ad-hoc regions (landuse.adhoc): any Saxon municipality by its AGS, offline from ../shared/data."""

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner

from landuse.adhoc import parse_codes, region_from_ags
from landuse.cli import main
from landuse.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (ROOT / "sachsen" / "osm_omt_2021_z14.mbtiles").exists(),
                                reason="../shared/data with the Saxony tiles is not beside the checkout")


def _run_ags(codes: str, tmp_path: Path):
    """``landuse run --ags codes`` offline from ../shared/data into ``tmp_path``: (result, output folder)."""
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["-q", "run", "--ags", codes, "--data", str(ROOT), "--out", str(out),
                                  "--layers-dir", str(tmp_path / "layers"), "--no-embed"])
    assert r.exit_code == 0, r.output
    return r, out


def test_codes_are_keys_or_prefixes():
    assert parse_codes("14625020, 14729") == ["14625020", "14729"]
    assert parse_codes(["14", "14"]) == ["14"]
    with pytest.raises(ConfigError, match="--ags 'Bautzen': give an 8-digit municipality key"):
        parse_codes("Bautzen")


@needs_data
def test_region_from_keys_prefixes_and_unknown_keys():
    one = region_from_ags("14625020", data_root=ROOT)
    assert one.name == "ags-14625020" and [m.name for m in one.municipalities] == ["Bautzen"]
    assert one.municipalities[0].inhabitants == 39475 and one.baseline == {}  # no emission load is known
    assert len(region_from_ags("14729", data_root=ROOT).municipalities) == 32  # Landkreis Leipzig, 2016
    assert len(region_from_ags("14", data_root=ROOT).municipalities) == 426  # all of Saxony
    with pytest.raises(ConfigError) as err:
        region_from_ags("14625999", data_root=ROOT)
    assert str(err.value).startswith("--ags 14625999: no municipality of vg250_gemeinden_sachsen_2016_s200.geojson")
    assert "Close: 14626590" in str(err.value) and "\n" not in str(err.value)


@needs_data
def test_run_a_small_municipality_far_from_the_default_box(tmp_path):
    """Rathen (Sächsische Schweiz, 3.6 km²): tiles, Germany-wide rasters, the box-only rasters skipped."""
    r, out = _run_ags("14628310", tmp_path)
    assert "Rathen" in r.output and "no emission load configured" in r.output
    for name in ("map.html", "landuse.gpkg", "summary.csv", "landuse.xlsx", "shapefiles"):
        assert (out / name).exists(), name
    parcels = gpd.read_file(out / "landuse.gpkg", layer="parcels")
    assert (parcels["municipality"] == "Rathen").all()
    assert 300 < parcels.geometry.area.sum() / 1e4 < 380  # of 356 ha; VG250 simplified to about 200 m
    for tech in ("wind", "pv", "agroforestry"):
        scored = parcels[parcels[f"{tech}_eligible_ha"] > 0]
        assert scored[f"{tech}_score"].notna().all()  # never NaN scores, whatever raster was skipped
    meta = pyogrio.read_dataframe(out / "landuse.gpkg", layer="metadata", read_geometry=False)
    notes = meta.set_index(meta.columns[0]).iloc[:, 0].to_dict()["notes"]
    assert "raster dem" in notes and "raster irradiation" in notes  # the Leipzig-box rasters do not reach it


@needs_data
def test_namesakes_keep_their_key_in_name_and_group():
    """Saxony has two municipalities named Bernsdorf (Landkreis Zwickau, Landkreis Bautzen)."""
    from landuse.sources.boundaries import read_boundaries

    region = region_from_ags("14524010,14625030", data_root=ROOT)
    assert [(m.name, m.group) for m in region.municipalities] == [
        ("Bernsdorf (14524010)", "Bernsdorf (14524010)"), ("Bernsdorf (14625030)", "Bernsdorf (14625030)")]
    alone = region_from_ags("14524010", data_root=ROOT)
    assert [m.name for m in alone.municipalities] == ["Bernsdorf"]  # no namesake in the region: the plain name
    bounds = read_boundaries(region.sources["boundaries"], ROOT, region)
    assert bounds["name"].tolist() == ["Bernsdorf (14524010)", "Bernsdorf (14625030)"]
    assert bounds["ags"].tolist() == ["14524010", "14625030"]
    areas_km2 = (bounds.geometry.area / 1e6).round(0).tolist()
    assert areas_km2[0] != areas_km2[1] and all(5 < a < 100 for a in areas_km2)


@needs_data
def test_namesakes_get_a_row_and_a_fact_sheet_each(tmp_path):
    """Before, both Bernsdorfs were added into one row of the balance and one fact sheet was missing."""
    import pandas as pd

    from landuse.partition import parts_of

    _, out = _run_ags("14524010,14625030", tmp_path)
    names = ["Bernsdorf (14524010)", "Bernsdorf (14625030)"]
    summary = pd.read_csv(out / "summary.csv")
    full = summary[(summary["tier"] == "technical") & (summary["share_realised"] == 1)].set_index("level")
    assert sorted(full.loc["municipality", "area"]) == names
    coppice_ha = full.loc["municipality"].set_index("area")["coppice_planted_ha"]
    assert coppice_ha.gt(10).all() and coppice_ha.iloc[0] != coppice_ha.iloc[1]
    assert full.loc["region", "coppice_planted_ha"] == pytest.approx(coppice_ha.sum())
    assert sorted(p.name for p in (out / "factsheets").glob("*.pdf")) == ["bernsdorf-14524010.pdf",
                                                                          "bernsdorf-14625030.pdf"]
    parcels = gpd.read_file(out / "landuse.gpkg", layer="parcels", columns=["municipality", "ags"])
    assert parcels.groupby("municipality")["ags"].unique().map(list).to_dict() == {
        names[0]: ["14524010"], names[1]: ["14625030"]}
    # a partitioned run names its parts the same way, so the merged rows stay apart
    parts = parts_of(region_from_ags("14524010,14625030", data_root=ROOT), layers_dir=tmp_path / "layers", out=out)
    assert [(p.name, p.region.municipalities[0].name, p.raw["title"]) for p in parts] == [(n, n, n) for n in names]
