"""Partitioned runs at scale: a district and all of Saxony on a local Dask cluster; print wall
time, peak memory per worker and in total, and the time per municipality.

Usage: python benchmarks/bench_saxony.py [--district 14729] [--workers 2] [--saxony [--saxony-only]]
       [--work DIR] [--data DIR]
Target (issue #14): all of Saxony (426 municipalities) <= 15 minutes and <= 6 GB peak in total.
Without --saxony only the district runs and the figure for Saxony is extrapolated from it
(time per municipality x 426 / workers).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import peak_mb, work_dir

from landuse.adhoc import region_from_ags
from landuse.config import shared_data_root
from landuse.pipeline import run

SAXON_MUNICIPALITIES = 426


def measure(codes: str, *, workers: int, work: Path, data: Path) -> dict:
    region = region_from_ags(codes, data_root=data)
    t0 = time.perf_counter()
    res = run(region, data=data, layers_dir=work / "layers", out=work / "out" / region.name, workers=workers)
    wall = time.perf_counter() - t0
    runs = res["layers"].data.manifest["partition_runs"]
    worker_peak = max(r["peak_mb"] for r in runs)
    per_muni = sum(r["seconds"] for r in runs) / len(runs)
    parcels = len(res["parcels"].data)
    print(f"{region.title}: {len(runs)} municipalities, {parcels:,} parcels, {workers} workers: wall {wall:.0f} s; "
          f"per municipality mean {per_muni:.0f} s, slowest {max(r['seconds'] for r in runs):.0f} s; "
          f"peak memory per worker {worker_peak:.0f} MB, main process {peak_mb():.0f} MB, "
          f"total at most {worker_peak * workers + peak_mb():.0f} MB")
    return {"wall": wall, "per_muni": per_muni, "n": len(runs), "worker_peak": worker_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--district", default="14729")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--saxony", action="store_true")
    parser.add_argument("--saxony-only", action="store_true", help="with --saxony: skip the district")
    parser.add_argument("--work", default=None)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    data = Path(args.data) if args.data else shared_data_root()
    work = work_dir(args, "bench-saxony-")
    if not (args.saxony and args.saxony_only):
        district = measure(args.district, workers=args.workers, work=work, data=data)
        estimate = district["per_muni"] * SAXON_MUNICIPALITIES / args.workers
        print(f"Saxony extrapolated from the district: {estimate / 60:.0f} min on {args.workers} workers; "
              f"15 min needs about {district['per_muni'] * SAXON_MUNICIPALITIES / 900:.0f} workers "
              f"({district['worker_peak'] / 1024:.1f} GB each)")
    if args.saxony:
        saxony = measure("14", workers=args.workers, work=work, data=data)
        print(f"Saxony: {saxony['wall'] / 60:.0f} min on {args.workers} workers (target 15 min); at "
              f"{saxony['per_muni']:.0f} s per municipality, 15 min of partitions need about "
              f"{saxony['per_muni'] * saxony['n'] / 900:.0f} workers ({saxony['worker_peak'] / 1024:.1f} GB each)")


if __name__ == "__main__":
    main()
