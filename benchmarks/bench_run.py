"""End to end: `landuse run` for a region from an empty cache, then again with every stage
reused; print wall times and peak memory.

Usage: python benchmarks/bench_run.py [--region leipzig-wurzen] [--data DIR]
Target (issue #7): ≤ 3 minutes and ≤ 4 GB on 2 cores from an empty cache.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import arguments, peak_mb

from landuse.pipeline import run


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        times = {}

        def step(name):
            times[name] = time.perf_counter()

        t0 = time.perf_counter()
        run(args.region, data=args.data, layers_dir=base / "layers", out=base / "outputs", progress=step)
        cold = time.perf_counter() - t0
        names = list(times)
        stamps = [times[n] for n in names] + [t0 + cold]
        per_stage = ", ".join(f"{n} {stamps[i + 1] - stamps[i]:.1f} s" for i, n in enumerate(names))
        t0 = time.perf_counter()
        res = run(args.region, data=args.data, layers_dir=base / "layers", out=base / "outputs")
        warm = time.perf_counter() - t0
        size = (base / "outputs" / "map.html").stat().st_size / 1e6
    peak = peak_mb()
    reused = all(r.reused for r in res.values())
    print(f"landuse run {args.region}: empty cache {cold:.1f} s ({per_stage}); second run {warm:.1f} s "
          f"(all stages reused: {reused}); peak memory {peak:.0f} MB; map.html {size:.1f} MB")


if __name__ == "__main__":
    main()
