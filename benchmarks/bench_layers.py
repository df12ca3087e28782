"""Time building the layer store of a region from scratch; print wall time and peak memory.

Usage: python benchmarks/bench_layers.py [--region leipzig-wurzen] [--data DIR]
Target (issue #2): ≤ 60 s and ≤ 3 GB on 2 cores for the default region.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from landuse.layers import layer_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="leipzig-wurzen")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        layers, _ = layer_store(args.region, data=args.data, layers_dir=tmp, force=True)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, reused = layer_store(args.region, data=args.data, layers_dir=tmp)
        reuse = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    features = sum(len(g) for g in layers.layers.values())
    print(f"layer store {args.region}: build {build:.1f} s, reuse {reuse:.1f} s (reused={reused}), "
          f"peak memory {peak_mb:.0f} MB, {features:,} features")


if __name__ == "__main__":
    main()
