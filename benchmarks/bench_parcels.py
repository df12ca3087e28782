"""Time the parcel build (derivation and all attributes) for a region; print wall time, peak
memory and parcel count. The layer store is built first (not timed) if it is missing.

Usage: python benchmarks/bench_parcels.py [--region leipzig-wurzen] [--data DIR]
Target (issue #3): ≤ 60 s and ≤ 4 GB on 2 cores for the default region.
"""

from __future__ import annotations

import time

from common import arguments, peak_mb

from landuse.config import load_region, resolve_data_dir
from landuse.layers import layer_store
from landuse.parcels import build_parcels, derive_parcels


def main() -> None:
    args = arguments(__doc__)
    region = load_region(args.region)
    layers, _ = layer_store(region, data=args.data)
    before_mb = peak_mb()
    t0 = time.perf_counter()
    derived = derive_parcels(layers)
    derive = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_parcels(layers, region.sources.get("parcels"), resolve_data_dir(region, args.data))
    total = time.perf_counter() - t0
    peak = peak_mb()
    print(f"parcels {region.name}: derive {derive:.1f} s, derive + attributes {total:.1f} s, "
          f"peak memory {peak:.0f} MB (after loading layers {before_mb:.0f} MB), "
          f"{len(model):,} parcels ({int(model['candidate'].sum()):,} candidates; {len(derived):,} derived)")


if __name__ == "__main__":
    main()
