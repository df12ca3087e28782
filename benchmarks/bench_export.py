"""Time and peak memory of the GIS exports (``landuse.gpkg``, ``shapefiles/``, ``summary.csv``,
``landuse.xlsx``) and of the land statistics for a region; print them.

The stages up to the balance are reused from ``--work`` (a cold folder runs them first) and
loaded in a fresh process, whose resident memory is then sampled every 5 ms: each figure is the
peak while one step runs above what the process held when it began (the loaded results), beside
the size of the result layers. A partitioned run has its land statistics from the parts, so
for all of Saxony only the exports count.

Usage: python benchmarks/bench_export.py [--region leipzig-wurzen | --ags 14729] [--data DIR] [--work DIR]
Target (issue #14): all of Saxony within 6 GB in total; the exports held the peak (8.7 GB).
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
from pathlib import Path

import shapely
from common import arguments, work_dir

from landuse.config import Region, load_region
from landuse.export import export_all
from landuse.pipeline import run
from landuse.stats import land_statistics


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _measure(step) -> dict:
    """Seconds, resident MB before and peak MB while ``step()`` runs."""
    gc.collect()
    before, peak, done = _rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    step()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    return {"seconds": seconds, "before": before, "peak": max(peak[0], before)}


def _child(region, data, work: Path, queue) -> None:
    stages = run(region, data=data, layers_dir=work / "layers", out=work / "out", until="balance")
    summary, _, allocation = stages["balance"].data
    results = {**stages["suitability"].data, "allocation": allocation}
    # columns as pandas counts them, geometries as their coordinates (16 bytes each)
    size = sum(f.memory_usage(deep=True).sum() + 16 * shapely.get_num_coordinates(f.geometry.values).sum()
               for f in results.values()) / 2**20
    exports = _measure(lambda: export_all(results, work / "exports", summary=summary))
    region = region if isinstance(region, Region) else load_region(region)
    stats = _measure(lambda: land_statistics(stages["layers"].data, region))
    queue.put({"exports": exports, "stats": stats, "rows": len(results["parcels"]),
               "columns": results["parcels"].shape[1], "layers": len(results), "size": size})


def main() -> None:
    args = arguments(__doc__)
    work = work_dir(args, "bench-export-")
    run(args.region, data=args.data, layers_dir=work / "layers", out=work / "out", until="balance")  # untimed
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    child = spawn.Process(target=_child, args=(args.region, args.data, work, queue))
    child.start()
    m = queue.get()
    child.join()
    name = getattr(args.region, "name", args.region)
    print(f"{name}: {m['layers']} result layers, {m['size']:,.0f} MB in memory; parcels {m['rows']:,} rows × "
          f"{m['columns']} columns")
    for label, key in (("exports (gpkg, shapefiles, csv, xlsx)", "exports"), ("land statistics", "stats")):
        r = m[key]
        extra = r["peak"] - r["before"]
        print(f"{label}: {r['seconds']:.1f} s; resident {r['before']:,.0f} MB before, peak {r['peak']:,.0f} MB "
              f"(+{extra:,.0f} MB, {extra / m['size']:.1f}× the result layers)")


if __name__ == "__main__":
    main()
