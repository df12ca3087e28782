"""OpenStreetMap extracts (Geofabrik ``.osm.pbf`` or ``.osm``) read with GDAL's OSM driver
through pyogrio, clipped to a bounding box, and classified with the same tag mapping as the
osmnx path (:func:`landuse.sources.osm.classify_osm`).

For a whole state extract this avoids the Overpass API: download e.g. ``sachsen-latest.osm.pbf``
once and set ``osm: {type: osm_file, path: sachsen-latest.osm.pbf}`` in the region config.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from landuse.errors import DataError
from landuse.sources.osm import OSM_TAGS, classify_osm

log = logging.getLogger(__name__)

#: Tags read from GDAL's ``other_tags`` (besides the driver's own columns).
EXTRA_TAGS = ("name", "water", "protect_class", "protection_title", "height", "building:levels", "voltage",
              "generator:source", "plant:source", "generator:output:electricity", "plant:output:electricity",
              "service", "bridge", "tunnel", "intermittent", "ref", *OSM_TAGS)
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def expand_other_tags(frame: pd.DataFrame, keys=EXTRA_TAGS) -> pd.DataFrame:
    """Turn GDAL's ``other_tags`` (``"k"=>"v",...``) into one column per wanted key.

    Parameters
    ----------
    frame : DataFrame
        A layer as GDAL's OSM driver reads it.
    keys : iterable of str
        Tags to extract (default :data:`EXTRA_TAGS`).

    Returns
    -------
    DataFrame
        ``frame`` without ``other_tags``, with a column per key found; a column the driver
        already has keeps its values and is filled from ``other_tags`` where empty.
    """
    if "other_tags" not in frame.columns or frame["other_tags"].isna().all():
        return frame.drop(columns=["other_tags"], errors="ignore")
    pairs = frame["other_tags"].dropna().str.extractall(_HSTORE)
    pairs.columns = ["key", "value"]
    pairs = pairs[pairs["key"].isin(keys)].droplevel("match")
    wide = pairs.reset_index(names="row").pivot_table(index="row", columns="key", values="value", aggfunc="first")
    out = frame.drop(columns=["other_tags"])
    for key in wide.columns:
        values = wide[key].reindex(out.index)
        out[key] = values if key not in out.columns else out[key].where(out[key].notna(), values)
    return out


def read_osm_file(path: str | Path,
                  bbox: tuple[float, float, float, float] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Canonical layers from an OSM extract (``.osm.pbf`` or ``.osm``) via GDAL's OSM driver.

    Parameters
    ----------
    path : path-like
    bbox : tuple, optional
        (minx, miny, maxx, maxy) in EPSG:4326; features intersecting it are read.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"OpenStreetMap extract {path} not found.")
    frames = []
    for layer in ("points", "lines", "multipolygons"):
        try:
            df = pyogrio.read_dataframe(path, layer=layer, bbox=bbox)
        except pyogrio.errors.DataSourceError as exc:
            raise DataError(f"{path} is not an OSM file GDAL can read ({exc}).") from exc
        frames.append(expand_other_tags(df))
    features = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    log.info("Read %d OSM features from %s", len(features), path)
    return classify_osm(features)
