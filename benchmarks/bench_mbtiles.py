"""The Saxony MBTiles against the region's OpenMapTiles GeoPackage: the same canonical layers?

Reads the default region's OSM layers from both sources (the GeoPackage is the same tilemaker
data, decoded and cut to a box), clips them to the region boundary and prints per canonical
layer and class the area (ha) or length (km) from both, the % difference, and the read times.

Usage: python benchmarks/bench_mbtiles.py [--region leipzig-wurzen] [--data DIR]
The MBTiles file is ``sachsen/osm_omt_2021_z14.mbtiles`` beside the region's data directory.
Target (issue #14): within 0.5 % per class.
"""

from __future__ import annotations

import time

import geopandas as gpd
import pandas as pd
from common import arguments, peak_mb

from landuse.config import WORKING_CRS, load_region, resolve_data_dir
from landuse.layers import _bbox_in, required_margin
from landuse.sources import mbtiles, omt
from landuse.sources.boundaries import read_boundaries

#: canonical layer → the column its classes are in
CLASS_COLUMN = {"landcover": "class", "water_bodies": "class", "roads": "class", "railways": "kind",
                "waterways": "class", "protected_areas": "type", "aerodromes": "class", "buildings": "kind"}


def measure(layers: dict[str, gpd.GeoDataFrame], region) -> pd.DataFrame:
    """Area (ha) or length (km) per canonical layer and class inside ``region``."""
    rows = []
    for name, col in CLASS_COLUMN.items():
        gdf = layers[name].to_crs(WORKING_CRS)
        gdf = gdf[gdf.intersects(region)]
        clipped = gdf.geometry.intersection(region)
        polygons = gdf.geom_type.str.contains("Polygon")
        size = clipped.area.where(polygons, clipped.length)
        for (cls, poly), group in size.groupby([gdf[col], polygons]):
            rows.append({"layer": name, "class": cls, "unit": "ha" if poly else "km",
                         "value": group.sum() / (1e4 if poly else 1e3), "features": len(group)})
    return pd.DataFrame(rows).set_index(["layer", "class", "unit"])


def main() -> None:
    args = arguments(__doc__)
    region = load_region(args.region)
    data_dir = resolve_data_dir(region, args.data)
    src = region.sources
    boundaries = read_boundaries(src["boundaries"], data_dir, region)
    region_geom = boundaries.geometry.union_all()
    margin = required_margin(region)
    aoi = region_geom.buffer(margin)
    gpkg = data_dir / src["osm"]["path"]
    buildings = data_dir / src["osm"]["buildings"] if src["osm"].get("buildings") else None
    tiles = data_dir.parent / "sachsen" / "osm_omt_2021_z14.mbtiles"

    t0 = time.perf_counter()
    ref = omt.read_openmaptiles(gpkg, buildings, bbox=_bbox_in("EPSG:4326", aoi))
    ref = {k: v.to_crs(WORKING_CRS) for k, v in ref.items()}
    t_gpkg = time.perf_counter() - t0
    t0 = time.perf_counter()
    read = mbtiles.read_tiles(tiles, aoi)
    got = omt.canonical_layers(read.layers)
    t_mbt = time.perf_counter() - t0

    t0 = time.perf_counter()
    table = measure(ref, region_geom).add_suffix("_gpkg").join(
        measure(got, region_geom).add_suffix("_mbtiles"), how="outer").fillna(0)
    t_clip = time.perf_counter() - t0
    table["diff_%"] = (table["value_mbtiles"] / table["value_gpkg"] - 1) * 100
    pd.set_option("display.width", 160)
    print(f"region {region.name}: {region_geom.area / 1e6:.0f} km², margin {margin:.0f} m; "
          f"MBTiles {len(read.tiles)} z{read.zoom} tiles read")
    print(table.round({"value_gpkg": 1, "value_mbtiles": 1, "diff_%": 3}).to_string())
    print(f"read times (area of interest, canonical layers in {WORKING_CRS}): GeoPackage {t_gpkg:.1f} s, "
          f"MBTiles {t_mbt:.1f} s (clipping both to the region {t_clip:.1f} s); peak memory {peak_mb():.0f} MB")
    worst = table.loc[table["value_gpkg"] > 0, "diff_%"].abs().max()
    print(f"largest difference per class: {worst:.3f} % (target ≤ 0.5 %)")


if __name__ == "__main__":
    main()
