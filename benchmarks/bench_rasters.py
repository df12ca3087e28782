"""Time to reproject a region's rasters onto its grid: reading the window the region needs
against reading each whole (Germany-wide) raster, in one run; print both, the ratio and whether
the cells are the same.

Every partition of an all-of-Saxony run reprojects the rasters for its municipality and margin,
so what one municipality costs here is paid 426 times.

Usage: python benchmarks/bench_rasters.py [--ags 14729410] [--data DIR] [--work DIR] [--repeat 3]
(default: Wurzen, whose rasters are the Germany-wide files; ``--region`` for a configured region)
"""

from __future__ import annotations

import argparse
import sys
import time
from unittest import mock

import numpy as np
import rasterio
from common import arguments, peak_mb, work_dir
from rasterio.enums import Resampling
from rasterio.windows import Window

from landuse.config import WORKING_CRS, load_region, resolve_data_dir
from landuse.criteria import load_rule_sets, max_buffer_m
from landuse.layers import required_margin
from landuse.sources import rasters
from landuse.sources.boundaries import read_boundaries
from landuse.sources.rasters import reproject_raster


def _whole(src, *_args) -> Window:
    return Window(0, 0, src.width, src.height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    known, rest = parser.parse_known_args()
    repeat = known.repeat
    if not any(a.startswith(("--ags", "--region")) for a in rest):
        rest += ["--ags", "14729410"]  # Wurzen reads the Germany-wide rasters
    sys.argv = [sys.argv[0], *rest]
    args = arguments(__doc__)
    region = args.region if not isinstance(args.region, str) else load_region(args.region)
    data_dir = resolve_data_dir(region, args.data)
    work = work_dir(args, "bench-rasters-")
    boundaries = read_boundaries(region.sources["boundaries"], data_dir, region)
    margin = required_margin(region, max_buffer_m(load_rule_sets()))
    aoi = boundaries.to_crs(WORKING_CRS).geometry.union_all().buffer(margin)
    print(f"rasters of {region.name} (margin {margin:.0f} m), best of {repeat}:")
    total = {"window": 0.0, "whole": 0.0}
    for key, spec in region.sources["rasters"].items():
        best = {"window": np.inf, "whole": np.inf}
        out = {}
        for turn in range(repeat + 1):  # turn 0 untimed: the file cache and the transformers warm for both
            for how in ("whole", "window"):
                dst = work / f"{key}-{how}.tif"
                patch = mock.patch.object(rasters, "_source_window", _whole) if how == "whole" else mock.MagicMock()
                with patch:
                    t0 = time.perf_counter()
                    reproject_raster(data_dir / spec["path"], dst, bounds=aoi.bounds, crs=spec.get("crs"),
                                     resolution=spec.get("cell_m"),
                                     resampling=Resampling[spec.get("resampling") or "nearest"])
                    if turn:
                        best[how] = min(best[how], time.perf_counter() - t0)
                with rasterio.open(dst) as f:
                    out[how] = f.read(1)
        same = np.array_equal(out["window"], out["whole"], equal_nan=True)
        for how in total:
            total[how] += best[how]
        print(f"  {key:26s} whole {best['whole']:6.2f} s  window {best['window']:6.2f} s  "
              f"({best['whole'] / best['window']:5.1f} x)  cells the same: {same}")
    print(f"  all rasters: whole {total['whole']:.2f} s, window {total['window']:.2f} s "
          f"({total['whole'] / total['window']:.1f} x); peak memory {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
