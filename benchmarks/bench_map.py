"""Size and open time of the interactive maps for a region; print them.

Builds the maps as ``landuse map`` does (stages reused from the output folder's cache; a cold
cache runs the whole job first, ~3 min), then opens ``map.html`` in headless Chromium with the
network off: the time from navigation start until the map's first frame is drawn (median of
``--runs``). ``--before FILE`` measures another map.html the same way (e.g. one written by an
older version).

Usage: python benchmarks/bench_map.py [--region leipzig-wurzen] [--data DIR] [--out DIR]
       [--layers-dir DIR] [--runs 5] [--before FILE]
Also the peak of Python's allocations while the maps are written (tracemalloc).
Target (issue #15): map.html ≤ 5 MB for the default region with every parcel, open in ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import CHROMIUM, open_seconds  # noqa: E402

from landuse.maps import write_maps  # noqa: E402
from landuse.pipeline import run  # noqa: E402


def _parcels_in(page: Path) -> int:
    found = re.search(r'<script type="application/json" id="landuse-data">(.*?)</script>',
                      page.read_text(encoding="utf-8"), re.S)
    return len(json.loads(found.group(1).replace("<\\/", "</"))["parcels"]["id"]) if found else -1


def _open(page: Path, runs: int) -> str:
    if CHROMIUM is None:
        return "open time not measured (chromium not installed)"
    times, how = open_seconds(page, runs=runs)
    return (f"opens in {statistics.median(times):.2f} s (median of {runs}; "
            f"{', '.join(f'{t:.2f}' for t in times)} s; {how})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="leipzig-wurzen")
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=None, help="output folder whose stage cache is reused "
                        "(default outputs/<region>)")
    parser.add_argument("--layers-dir", default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None, help="another map.html to measure the same way")
    args = parser.parse_args()
    res = run(args.region, data=args.data, layers_dir=args.layers_dir, out=args.out, until="balance")
    summary, potential, parts = res["balance"].data
    realistic = potential[potential["tier"] == "realistic"].drop(columns="tier")
    parcels = res["suitability"].data["parcels"]
    candidates = int(parcels["candidate"].astype(bool).sum())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = write_maps(res["suitability"].data, res["layers"].data["boundaries"], tmp, potential=realistic,
                           summary=summary, attribution=res["layers"].data.attribution, allocation=parts)
        build = time.perf_counter() - t0
        # again under tracemalloc (slower): what writing the maps allocates on top of the run's data
        tracemalloc.start()
        write_maps(res["suitability"].data, res["layers"].data["boundaries"], tmp, potential=realistic,
                   summary=summary, attribution=res["layers"].data.attribution, allocation=parts)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sizes = {p.name: p.stat().st_size / 1e6 for p in paths}
        page = Path(tmp) / "map.html"
        print(f"map.html {args.region}: {sizes['map.html']:.2f} MB, {_parcels_in(page):,} of {candidates:,} candidate "
              f"parcels; {_open(page, args.runs)}")
        others = ", ".join(f"{name} {mb:.2f} MB" for name, mb in sizes.items() if name != "map.html")
        print(f"  all maps written in {build:.1f} s; {others}")
        print(f"  peak Python allocations while writing them: {peak / 1e6:.0f} MB "
              f"({peak / 1e6 / sizes['map.html']:.1f} x the size of map.html)")
    if args.before:
        print(f"before ({args.before}): {args.before.stat().st_size / 1e6:.2f} MB; {_open(args.before, args.runs)}")


if __name__ == "__main__":
    main()
