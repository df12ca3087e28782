"""Canonical layers: one schema whatever the source, in EPSG:25833, with provenance.

:func:`build_layers` turns a region's sources into the canonical layers (region plus a
margin); :func:`layer_store` writes them to ``layers/<region>.gpkg`` with a manifest and
reuses the store while its inputs are unchanged; :func:`read_layers` reads them back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from rasterio.warp import Resampling
from shapely.geometry import box

from landuse import __version__
from landuse.config import (
    WORKING_CRS,
    Region,
    data_search_order,
    load_region,
    resolve_data_dir,
)
from landuse.errors import DataError
from landuse.geometry import transformer
from landuse.io import config_hash, file_stamp, read_vector, repair_geometries, sha256_file, write_json, write_layers
from landuse.sources import mbtiles, omt, osm, osmfile
from landuse.sources.boundaries import geocode_boundaries, read_boundaries
from landuse.sources.files import read_file_source
from landuse.sources.rasters import reproject_raster

log = logging.getLogger(__name__)

#: Bump when the canonical schema or its derivation changes: stores of an older schema rebuild.
SCHEMA_VERSION = 3

_POLY, _LINE, _ANY = ("Polygon", "MultiPolygon"), ("LineString", "MultiLineString"), None

#: Canonical layers: geometry types kept, columns with their default, and whether required.
SCHEMA: dict[str, dict[str, Any]] = {
    "boundaries": {"geom": _POLY, "columns": {"ags": "", "name": "", "group": ""}, "required": True},
    "landcover": {"geom": _POLY, "columns": {"class": "other", "subclass": ""}, "required": True},
    "buildings": {"geom": _POLY, "columns": {"kind": "yes", "height_m": float("nan")}, "required": False},
    "roads": {"geom": _LINE, "columns": {"class": "minor", "kind": "", "name": "", "bridge_tunnel": ""},
              "required": True},
    "railways": {"geom": _LINE, "columns": {"kind": "rail", "main": False, "service": ""}, "required": False},
    "waterways": {"geom": _LINE, "columns": {"class": "stream", "name": "", "intermittent": False,
                                             "tunnel": False}, "required": False},
    "water_bodies": {"geom": _POLY, "columns": {"class": "lake", "name": ""}, "required": False},
    "protected_areas": {"geom": _POLY, "columns": {"type": "other", "name": ""}, "required": False},
    "aerodromes": {"geom": _ANY, "columns": {"class": "aerodrome", "name": "", "ref": ""}, "required": False},
    "power_lines": {"geom": _LINE, "columns": {"class": "line", "voltage_v": float("nan")}, "required": False},
    "existing_plants": {"geom": _ANY, "columns": {"technology": "other", "capacity_mw": float("nan"),
                                                  "name": "", "hub_height_m": float("nan"),
                                                  "rotor_diameter_m": float("nan")}, "required": False},
}
LAYER_NAMES = tuple(SCHEMA)

#: What an empty optional layer means for the results (said in the metadata, map, workbook and
#: fact sheets), and how to fill it.
MISSING_MEANS: dict[str, str] = {
    "buildings": "no building footprints: the wind distances to outer-area building groups and single buildings "
                 "are not applied (add a buildings file)",
    "railways": "no railways: the wind distance to railways and the PV corridor along main lines are missing",
    "waterways": "no waterways: riparian strips and waterway distances are missing",
    "water_bodies": "no lakes: the wind distance to lakes is missing",
    "protected_areas": "no protected areas: every protection rule and criterion is left out",
    "aerodromes": "no aerodromes or runways: aviation exclusions (approach areas, aerodrome distance) are missing",
    "power_lines": "no power lines: the distance to lines and the grid criterion are missing (add a grid file under "
                   "sources.files)",
    "existing_plants": "no existing plants: new turbines ignore existing ones and no repowering is counted (add the "
                       "MaStR units under sources.files)",
}
#: Protected-area types the rule sets read, and what their absence means.
PROTECTED_TYPES_MEAN: dict[str, str] = {
    "LSG": "landscape protection areas (LSG; about 39 % of the Leipzig planning region) are missing: the wind, PV "
           "and agroforestry criteria that penalise them see none",
    "FFH": "FFH (Natura 2000 habitats) areas are missing: their wind exclusion does not apply",
    "SPA": "bird protection areas (SPA, Natura 2000) are missing: their wind exclusion does not apply",
}


def data_gaps(layers: dict[str, gpd.GeoDataFrame]) -> list[str]:
    """Notes on what the layers lack and what that means for the results.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        Canonical layers.

    Returns
    -------
    list of str
        One sentence per empty optional layer (:data:`MISSING_MEANS`), per protected-area type
        the rules read that no feature has (:data:`PROTECTED_TYPES_MEAN`), and for a grid without
        lines below 220 kV.
    """
    notes = [f"layer {name} is empty: {MISSING_MEANS[name]}" for name in MISSING_MEANS
             if name in layers and layers[name].empty]
    protected = layers.get("protected_areas")
    if protected is not None and not protected.empty:
        present = set(protected["type"])
        notes += [f"protected_areas: {meaning} (add the official layers under sources.files)"
                  for t, meaning in PROTECTED_TYPES_MEAN.items() if t not in present]
    lines = layers.get("power_lines")
    if lines is not None and not lines.empty and (lines["voltage_v"].dropna() >= 220_000).all():
        notes.append("power_lines hold only 220/380 kV lines (110 kV and medium voltage missing): grid distances are "
                     "upper bounds and the grid criterion is cautious")
    return notes


@dataclass
class LayerSet:
    """Canonical layers of a region with the metadata needed downstream.

    Attributes
    ----------
    layers : mapping of str to GeoDataFrame
        Canonical layers in EPSG:25833 (a dict, or a store's :class:`StoredLayers`).
    rasters : dict of str to Path
        Rasters reprojected to EPSG:25833 (name → GeoTIFF).
    manifest : dict
        Provenance: sources, dates, licences, attribution, counts, checksums.
    land_rows : DataFrame, optional
        Land area by category per municipality (:func:`landuse.stats.municipal_land_rows`) when
        the set does not hold the features: a partitioned run merges them from its parts.
    derived : dict
        Derived layers built from the set, by name and settings (filled as they are asked for).
    """

    layers: Mapping[str, gpd.GeoDataFrame]
    rasters: dict[str, Path] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    land_rows: pd.DataFrame | None = None
    #: Layers derived from these (building groups …), kept while the set lives: the parcel
    #: attributes and every technology's rules read the same ones.
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        return self.layers[name]

    @property
    def region_geometry(self) -> shapely.Geometry:
        """Union of the region's municipalities (EPSG:25833)."""
        return self.layers["boundaries"].geometry.union_all()

    @property
    def attribution(self) -> list[str]:
        """Attribution lines of every source, for maps and exports."""
        return sorted({s["attribution"] for s in self.manifest.get("sources", []) if s.get("attribution")})


def conform(gdf: gpd.GeoDataFrame, name: str, source: str = "") -> gpd.GeoDataFrame:
    """Bring a frame onto the canonical schema of layer ``name`` in EPSG:25833.

    Missing columns get their default; extra columns are dropped; geometries of the wrong
    dimension are dropped (a polygon layer keeps only polygons); invalid geometries are
    repaired; the frame is reprojected.

    Parameters
    ----------
    gdf : GeoDataFrame
        Features in any CRS.
    name : str
        Canonical layer, a key of :data:`SCHEMA`.
    source : str
        Written to the ``source`` column and named in messages.

    Returns
    -------
    GeoDataFrame
        The layer's columns plus ``source``, in EPSG:25833.

    Raises
    ------
    DataError
        The frame has no CRS.
    """
    spec = SCHEMA[name]
    if gdf.crs is None:
        raise DataError(f"Layer {name} ({source or 'unknown source'}) has no CRS; set 'crs:' in its source entry.")
    gdf = gdf.to_crs(WORKING_CRS) if gdf.crs != WORKING_CRS else gdf
    if spec["geom"] is not None and len(gdf):
        gdf = _keep_geometry_type(gdf, spec["geom"], f"{name} ({source})")
    gdf = repair_geometries(gdf, f"{name} ({source})")
    data = {}
    for col, default in spec["columns"].items():
        data[col] = gdf[col].to_numpy() if col in gdf.columns else [default] * len(gdf)
    out = gpd.GeoDataFrame(data, geometry=gdf.geometry.to_numpy(), crs=WORKING_CRS)
    for col, default in spec["columns"].items():
        if isinstance(default, bool):
            out[col] = out[col].astype(bool)
        elif isinstance(default, float):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        else:
            out[col] = out[col].astype(object).where(out[col].notna(), default).astype(str)
    out["source"] = source
    return out


def _keep_geometry_type(gdf: gpd.GeoDataFrame, types: tuple[str, ...], name: str) -> gpd.GeoDataFrame:
    """Keep features of a layer's geometry type: parts of that type are taken out of geometry
    collections; features of another type are dropped, and both are counted in the log."""
    dim = 2 if "Polygon" in types else 1
    geoms = gdf.geometry.values
    collections = shapely.get_type_id(geoms) == 7
    if collections.any():
        parts, idx = shapely.get_parts(geoms[collections], return_index=True)
        keep = shapely.get_dimensions(parts) == dim
        merged = np.full(int(collections.sum()), None, dtype=object)
        for k in np.unique(idx[keep]):
            merged[k] = shapely.union_all(parts[keep][idx[keep] == k])
        gdf = gdf.copy()
        gdf.loc[gdf.index[collections], gdf.geometry.name] = merged
        gdf = gdf[~gdf.geometry.isna()]
        log.warning("%s: %d geometry collections: their %s parts kept (%d collections had none)", name,
                    int(collections.sum()), "polygon" if dim == 2 else "line", int(sum(g is None for g in merged)))
    wrong = ~gdf.geom_type.isin(types)
    if wrong.any():
        counts = gdf.geom_type[wrong].value_counts().to_dict()
        log.warning("%s: %d features of another geometry type dropped (%s)", name, int(wrong.sum()),
                    ", ".join(f"{k} {v}" for k, v in counts.items()))
    return gdf[~wrong]


def required_margin(region: Region, rules_margin_m: float | None = None) -> float:
    """Margin (m) the layers keep around the region: the larger of the region's ``margin_m``
    and the widest buffer of the rules in use.

    Parameters
    ----------
    region : Region
    rules_margin_m : float, optional
        Widest exclusion buffer (m) of the rules in use (default: the default rules').

    Returns
    -------
    float
        Margin in metres.
    """
    if rules_margin_m is None:
        from landuse.criteria import load_rule_sets, max_buffer_m

        rules_margin_m = max_buffer_m(load_rule_sets())
    return float(max(region.margin_m, rules_margin_m))


def _bbox_in(crs, geom: shapely.Geometry) -> tuple[float, float, float, float]:
    """Bounds of a EPSG:25833 geometry in another CRS (densified edges, so it covers it)."""
    return transformer(WORKING_CRS, crs).transform_bounds(*geom.bounds, densify_pts=21)


def _extent_polygon(bounds, crs) -> shapely.Geometry:
    return gpd.GeoSeries([box(*bounds)], crs=crs).to_crs(WORKING_CRS).iloc[0]


#: Largest share of a municipality's area a source may lack: beyond it the data do not hold the
#: municipality (the wrong file or box) and the run stops; below it the gap is a note.
UNCOVERED_SHARE_MAX = 0.05


def check_coverage(
    boundaries: gpd.GeoDataFrame, extent: shapely.Geometry, *, margin_m: float, source: str
) -> dict[str, float]:
    """Check that a source's extent covers the region (error) and its margin (warning).

    A municipality may lack a little of its area (up to :data:`UNCOVERED_SHARE_MAX`): the
    Geofabrik extract behind the Saxony tiles follows the state border less closely than VG250,
    so a few border municipalities lose slivers (Groß Düben 2.7 %, Lauta 0.8 %). That is
    returned (and the layer store notes it in the outputs); more is an error.

    Parameters
    ----------
    boundaries : GeoDataFrame
        The region's municipalities (``name``), EPSG:25833.
    extent : shapely.Geometry
        Area the source covers, EPSG:25833.
    margin_m : float
        Margin (m) around the region the source should cover too.
    source : str
        Source name for messages (e.g. its path).

    Returns
    -------
    dict
        ``region_missing_km2``, ``margin_missing_km2`` and ``municipalities_missing``: name →
        [km², share] for each municipality lacking more than 0.1 % (below that: simplified
        borders).

    Raises
    ------
    DataError
        When more than :data:`UNCOVERED_SHARE_MAX` of a municipality lies outside the data:
        names the municipalities and the area.
    """
    missing = boundaries.geometry.difference(extent)
    share = missing.area / boundaries.geometry.area
    bad = share > UNCOVERED_SHARE_MAX
    if bad.any():
        parts = ", ".join(
            f"{n} ({a / 1e6:.1f} km², {s:.0%})"
            for n, a, s in zip(boundaries["name"][bad], missing.area[bad], share[bad], strict=True)
        )
        raise DataError(
            f"{source} does not cover the region: missing {parts}. Use data that covers the whole "
            "region or fetch it online (osm source type 'osmnx')."
        )
    region = boundaries.geometry.union_all()
    ring = region.buffer(margin_m).difference(region)
    margin_missing = ring.difference(extent)
    km2 = margin_missing.area / 1e6
    if km2 > 0.01 * ring.area / 1e6:
        c = region.centroid
        sides = []
        minx, miny, maxx, maxy = margin_missing.bounds
        for label, cond in (("west", minx < c.x and extent.bounds[0] > region.bounds[0] - margin_m),
                            ("east", extent.bounds[2] < region.bounds[2] + margin_m),
                            ("south", extent.bounds[1] > region.bounds[1] - margin_m),
                            ("north", extent.bounds[3] < region.bounds[3] + margin_m)):
            if cond:
                sides.append(label)
        log.warning(
            "%s covers the region but not all of its %.0f m margin: %.1f km² (%.0f%%) of the margin "
            "is missing on the %s side(s). Features there (houses, roads) cannot exclude sites "
            "near the border.", source, margin_m, km2, 100 * km2 / (ring.area / 1e6),
            ", ".join(sides) or "outer",
        )
    partly = share > 1e-3
    return {"region_missing_km2": float(missing.area.sum() / 1e6), "margin_missing_km2": float(km2),
            "municipalities_missing": {n: [round(a / 1e6, 2), round(float(f), 4)] for n, a, f in zip(
                boundaries["name"][partly], missing.area[partly], share[partly], strict=True)}}


def _select(gdf: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """Features intersecting ``area`` (spatial index; geometries are kept whole)."""
    if gdf.empty:
        return gdf
    idx = gdf.sindex.query(area, predicate="intersects")
    return gdf.iloc[sorted(idx)].reset_index(drop=True)


def _source_entry(key: str, spec: dict, path: Path | None) -> dict[str, Any]:
    entry = {
        "source": key, "type": spec.get("type", "file"),
        "path": str(path) if path else None,
        "date": spec.get("date"), "licence": spec.get("licence"), "attribution": spec.get("attribution"),
    }
    if path is not None and path.exists():
        entry["sha256"] = sha256_file(path)
        entry["bytes"] = path.stat().st_size
    return entry


def input_fingerprint(region: Region, data_dir: Path | None, margin_m: float) -> dict[str, Any]:
    """Checksums of everything a layer store depends on: input files, config, margin, schema
    and the package code that builds it.

    Parameters
    ----------
    region : Region
    data_dir : Path, optional
        Data directory; ``None`` for online sources (no input files).
    margin_m : float
        Margin (m) the store keeps around the region.

    Returns
    -------
    dict
        JSON-serialisable; stored in the manifest and compared to decide whether to rebuild.
    """
    from landuse.cache import code_key

    files = {}
    if data_dir is not None:
        for path in _input_paths(region, data_dir):
            # keyed relative to the data directory: the same data found by another path is the same input
            files[path.relative_to(data_dir).as_posix()] = sha256_file(path) if path.exists() else "missing"
    return {
        "schema_version": SCHEMA_VERSION,
        # only what shapes the layers: editing balance settings must not rebuild the store
        "config_sha256": config_hash(region.name, [(m.name, m.ags, m.group) for m in region.municipalities],
                                     region.margin_m,
                                     # a parcel file does not shape the layers: changing it keeps the store
                                     {k: v for k, v in region.sources.items() if k != "parcels"}),
        "margin_m": margin_m,
        "code": code_key("landuse.layers"),
        "inputs": files,
        "online": data_dir is None,
    }


def _input_paths(region: Region, data_dir: Path) -> list[Path]:
    src = region.sources
    paths = []
    if "boundaries" in src and src["boundaries"].get("path"):
        paths.append(data_dir / src["boundaries"]["path"])
    o = src.get("osm", {})
    for key in ("path", "buildings"):
        if o.get(key):
            paths.append(data_dir / o[key])
    for spec in (src.get("rasters") or {}).values():
        paths.append(data_dir / spec["path"])
    for spec in src.get("files") or []:
        paths.append(data_dir / spec["path"])
    return paths


def build_layers(
    region: Region | str = "leipzig-wurzen",
    data: str | os.PathLike | None = None,
    *,
    raster_dir: str | os.PathLike | None = None,
    rules_margin_m: float | None = None,
) -> LayerSet:
    """Build the canonical layers of a region from its sources.

    Parameters
    ----------
    region : Region or str
        Region config or its name/path.
    data : path-like, optional
        Data directory (else ``$LANDUSE_DATA``, ``../shared/data/<region>``, online).
    raster_dir : path-like, optional
        Where reprojected rasters are written (default ``layers/<region>_rasters``).
    rules_margin_m : float, optional
        Widest buffer of the rules in use (default: the default rules').

    Returns
    -------
    LayerSet
        Layers in EPSG:25833, clipped to the region plus :func:`required_margin`.
    """
    region = load_region(region) if not isinstance(region, Region) else region
    data_dir = resolve_data_dir(region, data)
    src = region.sources
    margin = required_margin(region, rules_margin_m)
    manifest_sources = []

    if data_dir is not None and "boundaries" in src:
        boundaries = read_boundaries(src["boundaries"], data_dir, region)
        manifest_sources.append(_source_entry("boundaries", src["boundaries"],
                                              data_dir / src["boundaries"]["path"]))
    else:
        boundaries = _online(lambda: geocode_boundaries(region), region, "boundaries")
        manifest_sources.append({"source": "boundaries", "type": "osmnx geocoder",
                                 "attribution": "© OpenStreetMap contributors", "licence": "ODbL 1.0"})
    boundaries = conform(boundaries, "boundaries", "boundaries")
    region_geom = boundaries.geometry.union_all()
    aoi = region_geom.buffer(margin)

    # the rasters are reprojected on a thread while the vector sources are read and conformed
    # (GDAL's reads and PROJ's transforms release the GIL; default region: 1.4 s of the 6 s)
    raster_specs = dict(src.get("rasters") or {}) if data_dir is not None else {}
    out_dir = Path(raster_dir) if raster_dir else Path("layers") / f"{region.name}_rasters"
    with ThreadPoolExecutor(1, thread_name_prefix="rasters") as pool:
        reprojected = [pool.submit(reproject_raster, data_dir / spec["path"], out_dir / f"{key}.tif",
                                   bounds=aoi.bounds, crs=spec.get("crs"), resolution=spec.get("cell_m"),
                                   resampling=Resampling[spec.get("resampling") or "nearest"])
                       for key, spec in raster_specs.items()]
        layers, coverage, reach = _vector_layers(region, data_dir, boundaries, aoi, region_geom, margin,
                                                 manifest_sources)
        tifs = [future.result() for future in reprojected]
    osm_spec = src.get("osm", {"type": "osmnx"})
    kind = osm_spec.get("type", "openmaptiles") if data_dir is not None else "osmnx"
    rasters = {}
    notes = data_gaps(layers)
    for note in notes:  # said in the metadata, map, workbook and fact sheets
        log.info("%s", note)
    for name, (km2, share) in coverage.get("municipalities_missing", {}).items():
        notes.append(f"OpenStreetMap ({osm_spec.get('path', kind)}) lacks {km2:.2f} km² ({share:.1%}) of {name} at "
                     "the edge of its data: that land is unmapped in the parcel model and no feature there "
                     "excludes or scores a site")
        log.warning("%s", notes[-1])
    for (key, spec), tif in zip(raster_specs.items(), tifs, strict=True):
        manifest_sources.append(_source_entry(f"raster:{key}", spec, data_dir / spec["path"]))
        share = raster_coverage(tif, region_geom)
        if share == 0:
            # optional rasters: skipped, so the criteria reading them give their weight to the others
            notes.append(f"raster {key} ({spec['path']}) has no data over the region (outside its extent or all "
                         "nodata): skipped; criteria that read it are left out of the scores")
            log.warning("%s", notes[-1])
            tif.unlink(missing_ok=True)
            continue
        if share < 0.9:
            notes.append(f"raster {key} ({spec['path']}) covers {share:.0%} of the region: parcels outside it "
                         "have no value and their criteria give their weight to the others")
            log.warning("%s", notes[-1])
        rasters[key] = tif

    manifest = {
        "region": region.name,
        "title": region.title,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "landuse_version": __version__,
        "crs": WORKING_CRS,
        "margin_m": margin,
        # how far around the region each layer holds every feature: distances reach that far
        "reach_m": reach,
        "region_area_ha": round(region_geom.area / 1e4, 1),
        "coverage": coverage,
        "notes": notes,
        "sources": manifest_sources,
        "layers": {n: {"features": len(g), "source": ", ".join(sorted(pd.unique(g["source"]))) if len(g) else ""}
                   for n, g in layers.items()},
        "rasters": {k: {"path": str(p), **{kk: src["rasters"][k].get(kk) for kk in
                                          ("unit", "description", "attribution", "licence")}}
                    for k, p in rasters.items()},
        "fingerprint": input_fingerprint(region, data_dir, margin),
    }
    return LayerSet(layers=layers, rasters=rasters, manifest=manifest)


def _vector_layers(region: Region, data_dir: Path | None, boundaries: gpd.GeoDataFrame, aoi: shapely.Geometry,
                   region_geom: shapely.Geometry, margin: float,
                   manifest_sources: list[dict]) -> tuple[dict[str, gpd.GeoDataFrame], dict, dict[str, float]]:
    """The canonical vector layers of :func:`build_layers` from the region's OSM source and
    files, with the OSM source's coverage of the region and each layer's reach (m); the entries of
    what was read are appended to ``manifest_sources``."""
    src = region.sources
    osm_spec = src.get("osm", {"type": "osmnx"})
    kind = osm_spec.get("type", "openmaptiles") if data_dir is not None else "osmnx"
    coverage = {}
    if kind == "openmaptiles":
        path = data_dir / osm_spec["path"]
        if not path.exists():
            raise DataError(f"OpenStreetMap data {path} not found (sources.osm.path in {region.path}).")
        crs = pyogrio.read_info(path, layer="landcover")["crs"]
        bbox = _bbox_in(crs, aoi)
        buildings = data_dir / osm_spec["buildings"] if osm_spec.get("buildings") else None
        raw = omt.read_openmaptiles(path, buildings, bbox=bbox)
        coverage = check_coverage(boundaries, _extent_polygon(omt.data_extent(path), crs), margin_m=margin,
                                  source=str(path))
        manifest_sources.append(_source_entry("osm", osm_spec, path))
        if buildings is not None:
            manifest_sources.append(_source_entry("osm buildings", osm_spec, buildings))
    elif kind == "mbtiles":
        path = data_dir / osm_spec["path"]
        raw = mbtiles.read_mbtiles(path, aoi, WORKING_CRS)
        coverage = check_coverage(boundaries, mbtiles.data_extent(path, aoi, WORKING_CRS), margin_m=margin,
                                  source=str(path))
        manifest_sources.append(_source_entry("osm", osm_spec, path))
    elif kind == "osm_xml":
        path = data_dir / osm_spec["path"]
        aoi_4326 = gpd.GeoSeries([aoi], crs=WORKING_CRS).to_crs("EPSG:4326").iloc[0]
        raw = osm.read_osm_xml(path, polygon=aoi_4326)
        manifest_sources.append(_source_entry("osm", osm_spec, path))
    elif kind == "osm_file":
        path = data_dir / osm_spec["path"]
        raw = osmfile.read_osm_file(path, bbox=_bbox_in("EPSG:4326", aoi))
        manifest_sources.append(_source_entry("osm", osm_spec, path))
    elif kind == "osmnx":
        aoi_4326 = gpd.GeoSeries([aoi], crs=WORKING_CRS).to_crs("EPSG:4326").iloc[0]
        raw = _online(lambda: osm.fetch_osm(aoi_4326), region, "OpenStreetMap features")
        manifest_sources.append({"source": "osm", "type": "osmnx", "date": dt.date.today().isoformat(),
                                 "licence": "ODbL 1.0", "attribution": "© OpenStreetMap contributors"})
    else:
        raise DataError(f"sources.osm.type '{kind}' in {region.path} is not one of openmaptiles, mbtiles, "
                        "osm_file, osm_xml, osmnx.")

    layers: dict[str, gpd.GeoDataFrame] = {"boundaries": boundaries}
    for name in LAYER_NAMES[1:]:
        layers[name] = _select(conform(raw.get(name, gpd.GeoDataFrame(geometry=[], crs=WORKING_CRS)),
                                       name, "osm"), aoi)
    reach = {name: margin for name in LAYER_NAMES}
    files_read: set[str] = set()
    for spec in src.get("files") or []:
        name, gdf = read_file_source(spec, data_dir)
        own = max(float(spec.get("reach_m") or 0.0), margin)
        # a wider reach holds only while every feature of the layer was read that far
        reach[name] = min(reach[name], own) if len(layers[name]) or name in files_read else own
        files_read.add(name)
        extra = _select(conform(gdf, name, spec["path"]), region_geom.buffer(own) if own > margin else aoi)
        layers[name] = pd.concat([layers[name], extra], ignore_index=True)
        manifest_sources.append(_source_entry(f"files:{name}", spec, data_dir / spec["path"]))

    for name, gdf in layers.items():
        if gdf.empty:
            if SCHEMA[name]["required"]:
                raise DataError(f"Layer {name} is empty for region {region.name}: check the sources in {region.path}.")
            log.warning("Layer %s is empty for region %s (optional: rules that use it are skipped).",
                        name, region.name)

    return layers, coverage, reach


def raster_coverage(path: str | os.PathLike, area: shapely.Geometry) -> float:
    """Share (0–1) of the cells inside ``area`` (EPSG:25833) that hold data."""
    import rasterio
    import rasterio.features

    with rasterio.open(path) as src:
        data = src.read(1, masked=True)
        inside = rasterio.features.geometry_mask([area], out_shape=data.shape, transform=src.transform, invert=True)
    cells = int(inside.sum())
    if cells == 0:
        return 0.0
    valid = ~np.ma.getmaskarray(data) & np.isfinite(np.ma.getdata(data))
    return float((valid & inside).sum() / cells)


def _online(fetch, region: Region, what: str):
    try:
        return fetch()
    except Exception as exc:  # network, Overpass and Nominatim errors all end here
        raise DataError(
            f"No local data for region '{region.name}' and fetching {what} online failed ({exc}). "
            f"Tried: {'; '.join(data_search_order(region))}. Pass --data DIR or set LANDUSE_DATA."
        ) from exc


def store_paths(region_name: str, layers_dir: str | os.PathLike | None = None) -> tuple[Path, Path, Path]:
    """Paths of a region's layer store: GeoPackage, manifest and raster folder.

    Parameters
    ----------
    region_name : str
    layers_dir : path-like, optional
        Folder of the store (default ``layers/`` in the working directory).

    Returns
    -------
    (Path, Path, Path)
        ``<region>.gpkg``, ``<region>.manifest.json`` and ``<region>_rasters``.
    """
    base = Path(layers_dir) if layers_dir else Path("layers")
    return base / f"{region_name}.gpkg", base / f"{region_name}.manifest.json", base / f"{region_name}_rasters"


def layer_store(
    region: Region | str = "leipzig-wurzen",
    data: str | os.PathLike | None = None,
    *,
    layers_dir: str | os.PathLike | None = None,
    rules_margin_m: float | None = None,
    force: bool = False,
    on_rebuild: Callable[[], Any] | None = None,
) -> tuple[LayerSet, bool]:
    """Build (or reuse) the layer store ``layers/<region>.gpkg`` with its manifest.

    Parameters
    ----------
    region : Region or str
    data : path-like, optional
        Data directory (see :func:`build_layers`).
    layers_dir : path-like, optional
        Folder of the store (default ``layers/``).
    rules_margin_m : float, optional
        Widest buffer of the rules in use: the store keeps at least this margin.
    force : bool
        Rebuild even when the inputs are unchanged.
    on_rebuild : callable, optional
        Called before the store is built anew (not when it is reused): a run starts there what
        only a rebuilt store makes certain to be needed.

    Returns
    -------
    (LayerSet, bool)
        The layers and whether the existing store was reused.
    """
    region = load_region(region) if not isinstance(region, Region) else region
    gpkg, manifest_path, raster_dir = store_paths(region.name, layers_dir)
    data_dir = resolve_data_dir(region, data)
    margin = required_margin(region, rules_margin_m)
    if not force and gpkg.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("fingerprint") == json.loads(json.dumps(input_fingerprint(region, data_dir, margin))):
            log.info("Layer store %s is up to date: reusing it.", gpkg)
            return read_layers(gpkg, manifest_path), True
        log.info("Inputs of %s changed: rebuilding.", gpkg)
    if on_rebuild is not None:
        on_rebuild()
    layerset = build_layers(region, data_dir, raster_dir=raster_dir, rules_margin_m=margin)
    for entry in layerset.manifest["rasters"].values():  # relative to the store: it may be moved
        entry["path"] = os.path.relpath(entry["path"], gpkg.parent)
    write_layers(layerset.layers, gpkg, option="--layers-dir")
    layerset.manifest["gpkg_sha256"] = sha256_file(gpkg)
    write_json(layerset.manifest, manifest_path, option="--layers-dir")
    log.info("Wrote %s (%s)", gpkg, ", ".join(f"{n} {len(g)}" for n, g in layerset.layers.items()))
    return layerset, False


class StoredLayers(Mapping[str, gpd.GeoDataFrame]):
    """The canonical layers of a store's GeoPackage, each read when it is first asked for.

    A run that reuses its later stages needs the boundaries only: the default region's warm
    run read all eleven layers (1.4 s of its 1.9 s), and a Dask worker every store it checks.
    The file must stay as it was when the store was opened; otherwise its layers would not fit
    the manifest and the stage keys.
    """

    def __init__(self, gpkg: Path) -> None:
        self._gpkg = gpkg
        self._stamp = file_stamp(gpkg)
        self._read: dict[str, gpd.GeoDataFrame] = {}
        self._lock = threading.Lock()  # the land statistics' thread reads beside the stages

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        if name not in LAYER_NAMES:
            raise KeyError(name)
        with self._lock:
            if name not in self._read:
                if file_stamp(self._gpkg) != self._stamp:
                    raise DataError(f"{self._gpkg}: the layer store was changed or removed while this run used it; "
                                    "run again.")
                self._read[name] = read_vector(self._gpkg, layer=name)
            return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(LAYER_NAMES)

    def __reduce__(self):  # a copy (pickle, deepcopy) opens the store anew
        return StoredLayers, (self._gpkg,)

    def __len__(self) -> int:
        return len(LAYER_NAMES)


def read_layers(gpkg: str | os.PathLike, manifest_path: str | os.PathLike | None = None) -> LayerSet:
    """Read a layer store back into a :class:`LayerSet` (each layer when first used, :class:`StoredLayers`).

    Parameters
    ----------
    gpkg : path-like
        The store's GeoPackage.
    manifest_path : path-like, optional
        Default: ``<gpkg stem>.manifest.json`` beside it. Without a manifest the layer set has
        no rasters and an empty manifest.

    Returns
    -------
    LayerSet
        Raster paths resolved relative to the manifest's folder.

    Raises
    ------
    DataError
        The GeoPackage is missing or lacks a canonical layer.
    """
    gpkg = Path(gpkg)
    try:
        present = {name for name, _ in pyogrio.list_layers(gpkg)}
    except Exception:  # noqa: BLE001 - read_vector names what is wrong with the file
        present = set()
    for name in LAYER_NAMES:
        if name not in present:
            read_vector(gpkg, layer=name)  # raises the DataError that names the file and the layer
    layers = StoredLayers(gpkg)
    manifest: dict[str, Any] = {}
    rasters: dict[str, Path] = {}
    manifest_path = Path(manifest_path) if manifest_path else gpkg.with_suffix(".manifest.json")
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        rasters = {k: (manifest_path.parent / v["path"]).resolve() for k, v in manifest.get("rasters", {}).items()}
    return LayerSet(layers=layers, rasters=rasters, manifest=manifest)
