"""Municipality boundaries: from a file (e.g. BKG VG250) by AGS or name, or online."""

from __future__ import annotations

import difflib
import logging
from pathlib import Path

import geopandas as gpd
import shapely

from landuse.config import WORKING_CRS, Region
from landuse.errors import ConfigError, DataError
from landuse.io import read_vector, repair_geometries

log = logging.getLogger(__name__)


def select_municipalities(
    table: gpd.GeoDataFrame, region: Region, *, ags_field: str, name_field: str, source: str = "boundaries"
) -> gpd.GeoDataFrame:
    """Pick the region's municipalities from a boundary table.

    Each municipality is matched by AGS when the config gives one, else by name
    (case-insensitive). Unknown names get close matches suggested.

    Parameters
    ----------
    table : GeoDataFrame
        Boundary table (e.g. BKG VG250 municipalities).
    region : Region
    ags_field, name_field : str
        Columns of ``table`` holding the AGS and the name.
    source : str
        Name of the table in messages (e.g. its path).

    Returns
    -------
    GeoDataFrame
        Columns ``ags``, ``name``, ``group``; one row per municipality (parts dissolved),
        in the table's CRS, in the config's order.

    Raises
    ------
    DataError
        ``ags_field`` or ``name_field`` is not a column of ``table``.
    ConfigError
        A municipality is not in the table, or its name matches several AGS.
    """
    for field in (ags_field, name_field):
        if field not in table.columns:
            raise DataError(f"{source}: column '{field}' not found; columns are {list(table.columns)}.")
    ags_col = table[ags_field].astype(str).str.strip()
    name_col = table[name_field].astype(str).str.strip()
    rows = []
    for m in region.municipalities:
        if m.ags is not None:
            hit = table[ags_col == m.ags]
            what = f"AGS {m.ags}" + (f" ({m.name})" if m.name else "")
        else:
            hit = table[name_col.str.casefold() == m.name.casefold()]
            what = f"name '{m.name}'"
        if hit.empty:
            hint = ""
            if m.name:
                close = difflib.get_close_matches(m.name, name_col.unique().tolist(), n=3, cutoff=0.6)
                hint = f" Close matches: {', '.join(close)}." if close else ""
            raise ConfigError(
                f"Municipality {what} of region '{region.name}' is not in {source}.{hint} "
                f"Check the spelling or give its 8-digit AGS."
            )
        if m.ags is None and hit[ags_field].astype(str).nunique() > 1:
            options = ", ".join(f"{a}" for a in hit[ags_field].astype(str).unique())
            raise ConfigError(f"Municipality name '{m.name}' is ambiguous in {source} (AGS {options}); give its AGS.")
        geom = hit.geometry.union_all()
        # the region's name labels the results (it may tell namesakes apart); the file's when it gives none
        rows.append({"ags": str(hit[ags_field].iloc[0]), "name": m.name or str(hit[name_field].iloc[0]),
                     "group": m.group, "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=table.crs)
    # municipalities given by AGS alone take the file's name, which may repeat (two Bernsdorfs in Saxony)
    twice = out["name"].duplicated(keep=False)
    out.loc[twice, "name"] = out.loc[twice, "name"] + " (" + out.loc[twice, "ags"] + ")"
    return out


def read_boundaries(spec: dict, data_dir: Path, region: Region) -> gpd.GeoDataFrame:
    """Region municipalities from a boundary file declared in the region config.

    Parameters
    ----------
    spec : dict
        ``path`` (relative to ``data_dir``), ``ags_field``, ``name_field``, optional
        ``layer`` and ``crs``.
    data_dir : Path
    region : Region

    Returns
    -------
    GeoDataFrame
        ``ags``, ``name``, ``group`` in EPSG:25833.
    """
    path = data_dir / spec["path"]
    table = read_vector(path, layer=spec.get("layer"), crs=spec.get("crs"), encoding=spec.get("encoding"))
    table = repair_geometries(table, f"{path}")
    ags_field = spec.get("ags_field", "AGS")
    out = select_municipalities(table, region, ags_field=ags_field, name_field=spec.get("name_field", "GEN"),
                                source=str(path))
    return without_overlaps(out.to_crs(WORKING_CRS), table.to_crs(WORKING_CRS), ags_field=ags_field)


def without_overlaps(selected: gpd.GeoDataFrame, table: gpd.GeoDataFrame, *, ags_field: str) -> gpd.GeoDataFrame:
    """Each selected municipality without the land it shares with any municipality of the file
    with a lower AGS (VG250's simplified borders overlap their neighbours by up to 45 ha).

    The rule looks at every neighbour in the file, not only those of the region, so a
    municipality has the same area in every region it is part of (and in each partition of a
    partitioned run).

    Parameters
    ----------
    selected : GeoDataFrame
        The region's municipalities (``ags``), EPSG:25833.
    table : GeoDataFrame
        Every feature of the boundaries file, EPSG:25833.
    ags_field : str
        AGS column of ``table``.

    Returns
    -------
    GeoDataFrame
        ``selected`` with its geometries cut.
    """
    keys = table[ags_field].astype(str).str.strip().to_numpy()
    geoms = table.geometry.values
    tree = shapely.STRtree(geoms)
    out = selected.geometry.values.copy()
    for k, (ags, geom) in enumerate(zip(selected["ags"].astype(str), out, strict=True)):
        near = tree.query(geom, predicate="intersects")
        lower = geoms[near[keys[near] < ags]]
        if len(lower):
            out[k] = shapely.difference(geom, shapely.union_all(lower))
    return selected.set_geometry(out)


def geocode_boundaries(region: Region) -> gpd.GeoDataFrame:
    """Region municipalities through osmnx's geocoder (Nominatim), for users online.

    Municipalities are looked up by name in Germany; AGS comes from the config.
    """
    import osmnx as ox

    rows = []
    for m in region.municipalities:
        if not m.name:
            raise ConfigError(f"Online boundaries need a name for the municipality with AGS {m.ags}.")
        query = {"city": m.name, "country": "Germany"}
        if region.state:
            query["state"] = region.state
        gdf = ox.geocode_to_gdf(query)
        rows.append({"ags": m.ags or "", "name": m.name, "group": m.group,
                     "geometry": gdf.geometry.iloc[0]})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    return out.to_crs(WORKING_CRS)

