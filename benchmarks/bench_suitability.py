"""Time scoring every registered technology (exclusions, scores and each one's own steps: PV
bands, riparian strips, turbine placement) for a region; print wall time per technology, peak
memory and results.

Usage: python benchmarks/bench_suitability.py [--region leipzig-wurzen] [--data DIR]
Target (issue #4): ≤ 60 s and ≤ 4 GB on 2 cores for all three, placement included.
"""

from __future__ import annotations

import time

from common import arguments, peak_mb

from landuse.config import load_region, resolve_data_dir
from landuse.criteria import load_rule_sets
from landuse.layers import layer_store
from landuse.parcels import build_parcels
from landuse.suitability import score_technology


def main() -> None:
    args = arguments(__doc__)
    region = load_region(args.region)
    layers, _ = layer_store(region, data=args.data)
    parcels = build_parcels(layers, region.sources.get("parcels"), resolve_data_dir(region, args.data))
    total = 0.0
    for tech, rules in load_rule_sets().items():
        t0 = time.perf_counter()
        res = score_technology(parcels, layers, rules)
        dt = time.perf_counter() - t0
        total += dt
        extra = "".join(f", {key} {len(gdf)}" for key, gdf in res.items() if key not in ("table", "eligible"))
        print(f"{tech:13} {dt:6.1f} s, eligible {res['table']['eligible_ha'].sum():9,.0f} ha{extra}")
    peak = peak_mb()
    print(f"suitability {region.name}: all technologies {total:.1f} s, peak memory {peak:.0f} MB, "
          f"{len(parcels):,} parcels")


if __name__ == "__main__":
    main()
