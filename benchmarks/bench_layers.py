"""Time building the layer store of a region from scratch; print wall time and peak memory.

Usage: python benchmarks/bench_layers.py [--region leipzig-wurzen] [--data DIR]
Target (issue #2): ≤ 60 s and ≤ 3 GB on 2 cores for the default region.
"""

from __future__ import annotations

import tempfile
import time

from common import arguments, peak_mb

from landuse.layers import layer_store


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        layers, _ = layer_store(args.region, data=args.data, layers_dir=tmp, force=True)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, reused = layer_store(args.region, data=args.data, layers_dir=tmp)
        reuse = time.perf_counter() - t0
    peak = peak_mb()
    features = sum(len(g) for g in layers.layers.values())
    print(f"layer store {args.region}: build {build:.1f} s, reuse {reuse:.1f} s (reused={reused}), "
          f"peak memory {peak:.0f} MB, {features:,} features")


if __name__ == "__main__":
    main()
