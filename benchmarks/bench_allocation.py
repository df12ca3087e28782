"""Time the allocation (one hectare, one use; HiGHS through scipy.optimize.milp) of a region,
per municipality and in all; print solve time, peak memory and the allocated land.

The stages up to the balance are run first (cached under a temporary folder, not timed).

Usage: python benchmarks/bench_allocation.py [--region leipzig-wurzen | --ags 14729] [--data DIR] [--work DIR]
Target (issue #12): ≤ 10 s for the default region; a district (``--ags 14729``, Landkreis Leipzig)
for the scale.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import arguments, peak_mb

from landuse.allocation import allocate, load_allocation
from landuse.pipeline import context, run


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.work or tmp)
        res = run(args.region, data=args.data, layers_dir=base / "layers", out=base / "out", until="balance")
        ctx = context(args.region, data=args.data)
        scored = res["suitability"].data["parcels"].set_index("parcel_id")
        potential = res["balance"].data[1]
        technical = potential[potential["tier"] == "technical"].drop(columns="tier")
        boundaries = res["layers"].data["boundaries"]
        area = dict(zip(boundaries["name"], boundaries.geometry.area / 1e4, strict=True))
        for method in ("optimise", "priority"):
            config = load_allocation(ctx.region).model_copy(update={"method": method})
            before = peak_mb()
            t0 = time.perf_counter()
            units, parts = allocate(scored, technical, res["suitability"].data, rule_sets=ctx.rule_sets,
                                    config=config, municipal_area_ha=area)
            seconds = time.perf_counter() - t0
            land = parts.groupby("use")["ha"].sum().round(0).to_dict()
            print(f"allocation {ctx.region.name} ({method}): {seconds:.1f} s for {len(scored):,} parcels in "
                  f"{scored['municipality'].nunique()} municipalities; peak memory {peak_mb():.0f} MB "
                  f"(before {before:.0f} MB); ha by use {land}; turbines {units['wind'].sum():.0f}")


if __name__ == "__main__":
    main()
