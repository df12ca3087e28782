"""Official GIS files a municipality has (ATKIS, ALKIS, InVeKoS, protected areas, the plant
register…) mapped onto canonical layers by a small manifest in the region config.

Example entry under ``sources.files``::

    - layer: protected_areas          # canonical layer it feeds
      path: schutzgebiete/lsg.shp     # relative to the data directory
      crs: EPSG:25833                 # only used when the file has no CRS
      class_field: TYP                # column giving the canonical class/type ...
      class_map: {LSG: LSG, NSG: NSG} # ... translated by this table (default: as is)
      value: LSG                      # or one fixed class/type for every feature
      name_field: NAME
      fields:                         # further canonical columns from file columns
        capacity_mw: {column: gross_kw, factor: 0.001}   # kW in the file, MW in the layer
        hub_height_m: hub_height_m
      licence: dl-de/by-2-0
      attribution: "© Landesamt für Umwelt, Landwirtschaft und Geologie"
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.errors import ConfigError, DataError
from landuse.io import read_vector

#: Canonical layer → the column that holds its class (or type/technology).
CLASS_COLUMN = {
    "landcover": "class", "roads": "class", "railways": "kind", "waterways": "class",
    "water_bodies": "class", "protected_areas": "type", "aerodromes": "class",
    "power_lines": "class", "existing_plants": "technology", "buildings": "kind",
}
def read_file_source(spec: dict, data_dir: Path) -> tuple[str, gpd.GeoDataFrame]:
    """Read one official file and map it onto its canonical layer.

    Parameters
    ----------
    spec : dict
        One ``sources.files`` entry (see the module docstring); ``path`` is relative to
        ``data_dir``.
    data_dir : Path

    Returns
    -------
    (str, GeoDataFrame)
        Canonical layer name and the features with the layer's class column (file CRS).

    Raises
    ------
    ConfigError
        Unknown ``layer``, no ``path``, neither ``class_field`` nor ``value``, or a ``where``
        filter that does not fit the file.
    DataError
        The file cannot be read, has no features (after ``where``) or lacks ``class_field``.
    """
    layer = spec.get("layer")
    if layer not in CLASS_COLUMN:
        raise ConfigError(
            f"sources.files entry {spec.get('path')}: 'layer' must be one of {sorted(CLASS_COLUMN)}, got {layer!r}."
        )
    if "path" not in spec:
        raise ConfigError(f"sources.files entry for layer {layer}: 'path' is missing.")
    path = data_dir / spec["path"]
    gdf = read_vector(path, layer=spec.get("source_layer"), crs=spec.get("crs"), encoding=spec.get("encoding"))
    if spec.get("where"):
        try:
            gdf = gdf.query(spec["where"])
        except Exception as exc:  # noqa: BLE001 - pandas' query errors, named for the user
            raise ConfigError(f"sources.files entry {spec['path']}: where {spec['where']!r} does not fit the file "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); columns: "
                              f"{', '.join(c for c in gdf.columns if c != gdf.geometry.name)}.") from None
    if gdf.empty:
        raise DataError(f"{path}: no features; remove the entry or fix the file.")
    column = CLASS_COLUMN[layer]
    if "value" in spec:
        values = pd.Series(str(spec["value"]), index=gdf.index)
    elif "class_field" in spec:
        field = spec["class_field"]
        if field not in gdf.columns:
            raise DataError(f"{path}: class_field '{field}' not found; columns: {list(gdf.columns[:-1])}.")
        values = gdf[field].astype(str)
        if "class_map" in spec:
            mapping = {str(k): str(v) for k, v in spec["class_map"].items()}
            values = values.map(mapping).fillna("other")
    else:
        raise ConfigError(f"sources.files entry {path}: give 'class_field' or 'value'.")
    out = gpd.GeoDataFrame({column: values.values}, geometry=gdf.geometry.values, crs=gdf.crs)
    if "name_field" in spec and spec["name_field"] in gdf.columns:
        out["name"] = gdf[spec["name_field"]].astype(str).values
    for canonical, field_spec in (spec.get("fields") or {}).items():
        out[canonical] = _field(gdf, path, layer, canonical, field_spec)
    return layer, out


def _field(gdf: gpd.GeoDataFrame, path: Path, layer: str, canonical: str, spec) -> pd.Series:
    """One ``fields`` entry: the file column as numbers times its factor, or as text."""
    from landuse.layers import SCHEMA

    columns = SCHEMA[layer]["columns"]
    if canonical not in columns:
        raise ConfigError(f"sources.files entry {path}: fields.{canonical}: layer {layer} has no column "
                          f"{canonical!r}; its columns: {', '.join(columns)}.")
    column, factor = (spec, 1.0) if isinstance(spec, str) else (spec["column"], float(spec.get("factor", 1.0)))
    if column not in gdf.columns:
        raise DataError(f"{path}: column '{column}' (fields.{canonical}) not found; columns: "
                        f"{', '.join(c for c in gdf.columns if c != gdf.geometry.name)}.")
    if isinstance(columns[canonical], str):
        return gdf[column].astype(str).values
    values = pd.to_numeric(gdf[column], errors="coerce")
    bad = values.isna() & gdf[column].notna()
    if bad.any():
        raise DataError(f"{path}: column '{column}' (fields.{canonical}) holds text where numbers belong, e.g. "
                        f"{gdf.loc[bad, column].iloc[0]!r} ({int(bad.sum())} rows); fix the file or map another "
                        "column.")
    return (values * factor).values
