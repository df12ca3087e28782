"""Exports for municipal GIS: GeoPackage with QGIS styles, Shapefiles with a stable
10-character field mapping and .qml styles, CSV and an Excel workbook.

Everything is written through temporary files and renamed when complete, so an interrupted
export leaves the previous complete one in place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pandas as pd
import pyogrio

from landuse import technologies
from landuse.config import WORKING_CRS
from landuse.io import OLD_MARK, TEMP_MARK, atomic_path, crash_point, write_table
from landuse.technologies import ResultLayer

log = logging.getLogger(__name__)



def result_layer_names() -> list[str]:
    """The layers an export writes: ``parcels``, ``allocation`` (the realistic tier's parcel parts
    by use) and each registered technology's layers."""
    return ["parcels", "allocation", *[name for t in technologies.technologies() for name in t.result_layer_names]]


#: Word abbreviations for Shapefile field names (10 characters at most); technologies add theirs.
ABBREVIATIONS = {
    "eligible": "el", "score": "sc", "sub": "s", "excl": "x", "share": "sh",
    "reason": "rsn", "dist": "d", "protected": "pr", "municipality": "muni", "group": "grp", "settlement": "set",
    "building": "bld", "single": "sgl", "motorway": "mw", "trunk": "tr", "primary": "pri", "secondary": "sec",
    "minor": "min", "road": "rd", "railway": "rw", "main": "mn", "power": "pw", "line": "ln", "forest": "for",
    "water": "wa", "body": "bd", "waterway": "ww", "aerodrome": "aer", "navigation": "nav", "aid": "aid",
    "land": "l", "cover": "cv", "landscape": "lsc", "protection": "prt", "distance": "d", "area": "ar",
    "quality": "q", "heat": "ht", "network": "nw", "low": "lo",
    "high": "hi", "capacity": "cap", "summer": "sum", "mean": "avg", "max": "mx", "nodata": "nd",
    "compactness": "cmp", "perimeter": "per", "width": "wid", "length": "len", "candidate": "cand",
    "overlaps": "ovl", "subclass": "subcl", "parcel": "p", "balance": "wb", "fk10dm": "fk", "rated": "rt",
    "other": "oth", "federal": "fed", "dry": "dry", "boundary": "bnd", "plant": "pl", "source": "src", "ags": "ags",
    "class": "class", "id": "id",
}

#: Units by column suffix or prefix (first match wins).
_UNITS = [
    (r"_score$|_sub_", "0-100"), (r"_share$", "0-1"), (r"_ha$", "ha"), (r"_m$", "m"), (r"_mwp$", "MWp"),
    (r"_mw$", "MW"), (r"_mwh_a$", "MWh/a"), (r"_t_co2e_a$", "t CO2e/a"), (r"_t_dm_a$", "t DM/a"),
    (r"^(nfk|fk10dm|water_balance)", "mm"), (r"_deg", "degree"), (r"compactness", "0-1"),
]


def abbreviations() -> dict[str, str]:
    """Word → abbreviation for Shapefile names: the shared words, each technology's name → its
    abbreviation, and the words it declares."""
    out = dict(ABBREVIATIONS)
    for t in technologies.technologies():
        out.update({t.name: t.abbreviation, **t.abbreviations})
    return out


def unit_of(column: str) -> str:
    """Unit of a result column: declared by its technology, else from its name ('' for text and ids)."""
    for t in technologies.technologies():
        for col, unit in t.field_units.items():
            if column == f"{t.name}_{col}":
                return unit
    for pattern, unit in _UNITS:
        if re.search(pattern, column):
            return unit
    return ""


def short_names(columns: list[str]) -> dict[str, str]:
    """A stable mapping of long column names to unique names of at most 10 characters.

    Words are abbreviated (:func:`abbreviations`), underscores dropped when still too long,
    then cut to 10; clashes are numbered in the order of the long names. The same columns
    always give the same mapping.
    """
    words = abbreviations()
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in sorted(columns):
        if len(col) <= 10:
            name = col
        else:
            name = "_".join(words.get(w, w) for w in col.split("_"))
            if len(name) > 10:
                name = name.replace("_", "")
            name = name[:10]
        base, k = name, 1
        while name.lower() in taken:
            suffix = str(k)
            name = base[: 10 - len(suffix)] + suffix
            k += 1
        taken.add(name.lower())
        out[col] = name
    return {c: out[c] for c in columns}


# --- QGIS styles --------------------------------------------------------------------------

SCORE_CLASSES = [(0, 20, "215,25,28"), (20, 40, "253,174,97"), (40, 60, "255,255,191"), (60, 80, "166,217,106"),
                 (80, 100, "26,150,65")]
CLASS_COLORS = {"arable": "237,221,139", "grassland": "171,221,164", "forest": "27,120,55", "water": "116,173,209",
                "residential": "215,48,39", "industrial": "153,112,171", "transport": "140,140,140",
                "other": "210,210,210"}


def _fill(name: str, color: str, outline: str = "68,68,68", width: float = 0.1, style: str = "solid") -> str:
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" pass="0" locked="0" enabled="1"><Option type="Map">'
            f'<Option name="color" value="{color},255" type="QString"/>'
            f'<Option name="outline_color" value="{outline},255" type="QString"/>'
            f'<Option name="outline_width" value="{width}" type="QString"/>'
            f'<Option name="style" value="{style}" type="QString"/>'
            '</Option></layer></symbol>')


def _marker(name: str, color: str) -> str:
    return (f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleMarker" pass="0" locked="0" enabled="1"><Option type="Map">'
            f'<Option name="color" value="{color},255" type="QString"/>'
            '<Option name="name" value="circle" type="QString"/>'
            '<Option name="outline_color" value="255,255,255,255" type="QString"/>'
            '<Option name="size" value="3" type="QString"/>'
            '</Option></layer></symbol>')


def layer_spec(layer: str) -> ResultLayer | None:
    """The declaration of a technology's own result layer (None for parcels and eligible areas)."""
    for t in technologies.technologies():
        for spec in t.layers:
            if layer == f"{t.name}_{spec.key}":
                return spec
    return None


def qml_style(layer: str, fields: dict[str, str] | None = None) -> str:
    """A QGIS style (QML) for a result layer; ``fields`` maps long to written field names."""
    fields = fields or {}
    f = lambda c: fields.get(c, c)  # noqa: E731
    spec = layer_spec(layer)
    if layer == "parcels":
        cats = "".join(f'<category value={quoteattr(k)} symbol="{i}" label={quoteattr(k)} render="true"/>'
                       for i, k in enumerate(CLASS_COLORS))
        syms = "".join(_fill(str(i), c) for i, c in enumerate(CLASS_COLORS.values()))
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(f("class"))} symbollevels="0">'
                    f"<categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>")
    elif layer == "allocation":
        techs = technologies.technologies()
        cats = "".join(f'<category value={quoteattr(t.name)} symbol="{i}" label={quoteattr(t.title)} render="true"/>'
                       for i, t in enumerate(techs))
        syms = "".join(_fill(str(i), _rgb(t.color)) for i, t in enumerate(techs))
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(f("use"))} symbollevels="0">'
                    f"<categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>")
    elif spec is None:  # eligible areas: graduated by score
        ranges = "".join(f'<range lower="{lo}" upper="{hi}" symbol="{i}" label="score {lo}-{hi}" render="true"/>'
                         for i, (lo, hi, _) in enumerate(SCORE_CLASSES))
        syms = "".join(_fill(str(i), c) for i, (_, _, c) in enumerate(SCORE_CLASSES))
        renderer = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(f("score"))} '
                    f'graduatedMethod="GraduatedColor" symbollevels="0"><ranges>{ranges}</ranges>'
                    f"<symbols>{syms}</symbols></renderer-v2>")
    elif spec.geometry == "point":
        renderer = f'<renderer-v2 type="singleSymbol" symbollevels="0"><symbols>{_marker("0", _rgb(spec.color))}' \
                   "</symbols></renderer-v2>"
    else:
        rgb = _rgb(spec.color)
        symbol = _fill("0", rgb, rgb, 0.5, "no") if spec.style == "outline" else _fill("0", rgb, rgb)
        renderer = f'<renderer-v2 type="singleSymbol"><symbols>{symbol}</symbols></renderer-v2>'
    geometry_type = "0" if spec is not None and spec.geometry == "point" else "2"
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.28.0" styleCategories="Symbology">{renderer}'
            f"<layerGeometryType>{geometry_type}</layerGeometryType></qgis>\n")


def _rgb(hex_color: str) -> str:
    """'#2166ac' → '33,102,172' (QGIS colour strings)."""
    h = hex_color.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4))


# --- writers -----------------------------------------------------------------------------

def _frames(results: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {name: results[name] for name in result_layer_names() if name in results}


def write_geopackage(results: dict[str, gpd.GeoDataFrame], summary: pd.DataFrame | None, path: str | os.PathLike,
                     *, metadata: dict | None = None, timestamp: str | None = None) -> Path:
    """All result layers, the summary table and QGIS styles (``layer_styles``) in one GeoPackage.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (see :func:`result_layer_names`).
    summary : DataFrame or None
        The balance, written as table ``summary``.
    path : path-like
    metadata : dict, optional
        Written as table ``metadata`` (key, value).
    timestamp : str, optional
        ISO time (UTC) stored as the layers' and styles' change date; the same inputs and
        timestamp give the same bytes. Default: now.
    """
    path = Path(path)
    frames = _frames(results)
    timestamp = timestamp or pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    styles = pd.DataFrame([{
        "f_table_catalog": "", "f_table_schema": "", "f_table_name": name, "f_geometry_column": "geom",
        "styleName": name, "styleQML": qml_style(name), "styleSLD": "", "useAsDefault": True,
        "description": f"landuse default style of {name}", "owner": "landuse", "ui": "",
        "update_time": timestamp.rstrip("Z"),
    } for name in frames])
    with atomic_path(path) as tmp, _gdal_date(timestamp):
        for name, gdf in frames.items():
            pyogrio.write_dataframe(gdf.to_crs(WORKING_CRS), tmp, layer=name, driver="GPKG")
        if summary is not None:
            pyogrio.write_dataframe(summary.reset_index(), tmp, layer="summary", driver="GPKG")
        if metadata:
            meta = pd.DataFrame({"key": list(metadata), "value": [str(v) for v in metadata.values()]})
            pyogrio.write_dataframe(meta, tmp, layer="metadata", driver="GPKG")
        pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG")
    return path


@contextlib.contextmanager
def _gdal_date(timestamp: str):
    """GDAL writes this time into ``gpkg_contents.last_change`` instead of the clock's."""
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = timestamp if timestamp.endswith("Z") else timestamp + "Z"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old


def write_shapefiles(results: dict[str, gpd.GeoDataFrame], folder: str | os.PathLike, *,
                     timestamp: str | None = None) -> Path:
    """One Shapefile per result layer (EPSG:25833, UTF-8 ``.cpg``, ``.qml``), and ``fields.csv``
    with layer, short name, long name and unit. The folder is replaced as a whole.

    ``timestamp`` (ISO) is the date in the ``.dbf`` headers (default: today).
    """
    folder = Path(folder)
    dbf_date = {"DBF_DATE_LAST_UPDATE": timestamp[:10]} if timestamp else {}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}{TEMP_MARK}", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the export is for everyone who may read the folder
    try:
        rows = []
        for name, gdf in _frames(results).items():
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            mapping = short_names(cols)
            out = gdf.to_crs(WORKING_CRS).rename(columns=mapping)
            for c in out.columns:
                if out[c].dtype == bool:
                    out[c] = out[c].astype(int)
            pyogrio.write_dataframe(out, tmp / f"{name}.shp", driver="ESRI Shapefile", encoding="UTF-8",
                                    layer_options=dbf_date)
            (tmp / f"{name}.qml").write_text(qml_style(name, mapping), encoding="utf-8")
            rows += [{"layer": name, "short_name": mapping[c], "long_name": c, "unit": unit_of(c)} for c in cols]
        pd.DataFrame(rows).to_csv(tmp / "fields.csv", index=False, encoding="utf-8")
        (tmp / "README.txt").write_text(
            "Shapefiles of the landuse results, EPSG:25833 (ETRS89 / UTM 33N), UTF-8.\n"
            "Field names are cut to 10 characters: fields.csv maps them to the full names and units.\n"
            "Each layer has a QGIS style (.qml) beside it; QGIS loads it with the layer.\n", encoding="utf-8")
        # swap: between the two renames only the old version exists, under .<name>.old;
        # clean_temporary puts it back if the process dies right there
        backup = folder.with_name(f".{folder.name}{OLD_MARK}")
        shutil.rmtree(backup, ignore_errors=True)
        if folder.exists():
            folder.rename(backup)
        crash_point(f"between-renames:{folder.name}")
        tmp.rename(folder)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def write_workbook(tables: dict[str, pd.DataFrame], path: str | os.PathLike, *, timestamp: str | None = None) -> Path:
    """An Excel workbook with one sheet per table (sheet names cut to 31 characters).

    ``timestamp`` (ISO, UTC) is the workbook's creation date; with it the same tables give the
    same bytes (the archive's member dates are fixed too).
    """
    path = Path(path)
    when = pd.Timestamp(timestamp or pd.Timestamp.now(tz="UTC")).tz_localize(None) if timestamp else None
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name, table in tables.items():
                table.to_excel(xl, sheet_name=name[:31])
            if when is not None:
                xl.book.properties.created = when.to_pydatetime()
        if when is not None:
            _fix_dates(tmp, when)
    return path


def _fix_dates(path: Path, when: pd.Timestamp) -> None:
    """Rewrite a workbook with every archive member and its 'modified' property dated ``when``
    (openpyxl stamps the time of saving)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            dst.writestr(zipfile.ZipInfo(name, date_time=when.timetuple()[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def export_all(results: dict[str, gpd.GeoDataFrame], out: str | os.PathLike, *, summary: pd.DataFrame | None = None,
               tables: dict[str, pd.DataFrame] | None = None, metadata: dict | None = None,
               timestamp: str | None = None) -> dict[str, Path]:
    """Write ``landuse.gpkg`` (layers, summary, styles), ``shapefiles/``, ``summary.csv`` and
    ``landuse.xlsx`` into ``out``.

    Parameters
    ----------
    results : dict of str to GeoDataFrame
        Result layers (:func:`landuse.suitability.result_layers`).
    out : path-like
        Output folder.
    summary : DataFrame, optional
        The balance.
    tables : dict of str to DataFrame, optional
        Further workbook sheets (suitability, parameters).
    metadata : dict, optional
        Table ``metadata`` of the GeoPackage.
    timestamp : str, optional
        Change date written into the files (see :func:`write_geopackage`).

    Returns
    -------
    dict of str to Path
        ``gpkg``, ``shapefiles``, ``summary_csv``, ``xlsx``.
    """
    out = Path(out)
    paths = {"gpkg": write_geopackage(results, summary, out / "landuse.gpkg", metadata=metadata, timestamp=timestamp),
             "shapefiles": write_shapefiles(results, out / "shapefiles", timestamp=timestamp)}
    sheets = {}
    if summary is not None:
        paths["summary_csv"] = write_table(summary, out / "summary.csv")
        sheets["summary"] = summary
    sheets.update(tables or {})
    fields = pd.read_csv(out / "shapefiles" / "fields.csv")
    sheets["fields"] = fields.set_index("layer")
    paths["xlsx"] = write_workbook(sheets, out / "landuse.xlsx", timestamp=timestamp)
    return paths


__all__ = ["export_all", "write_geopackage", "write_shapefiles", "write_workbook", "short_names", "unit_of",
           "qml_style"]
