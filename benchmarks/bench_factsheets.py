"""Time and memory of the fact sheets for a region; print them.

The stages up to the balance are reused from ``--work`` (a cold folder runs them first); the
sheets are then written as ``landuse run`` writes them, in forked processes (one per core). The
memory of each sheet process is sampled every 50 ms from ``/proc/<pid>/smaps_rollup``: its
private memory (what it does not share with this process: its own drawing, and the inherited
pages it wrote to) and its PSS (its share of all it maps).

Usage: python benchmarks/bench_factsheets.py [--region leipzig-wurzen | --ags 14729] [--data DIR] [--work DIR]
Context (issue #14): all of Saxony within 6 GB in total; two sheet processes took 1.7-1.8 GB PSS each.
"""

from __future__ import annotations

import os
import threading
import time

from common import arguments, work_dir

from landuse.pipeline import _write_factsheets, context, run


def _memory_mb(pid: int) -> tuple[float, float]:
    """(private, PSS) MB of a process; zeros once it has ended."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, value = line.split()[:2]
                fields[key] = int(value) / 1024 if value.isdigit() else 0
    except OSError:
        return 0.0, 0.0
    return fields.get("Private_Clean:", 0) + fields.get("Private_Dirty:", 0), fields.get("Pss:", 0)


def main() -> None:
    args = arguments(__doc__)
    work = work_dir(args, "bench-sheets-")
    stages = run(args.region, data=args.data, layers_dir=work / "layers", out=work / "out", until="balance")
    summary, _, allocation = stages["balance"].data
    ctx = context(args.region, data=args.data, layers_dir=work / "layers", out=work / "sheets")
    me, peaks, done = os.getpid(), {}, threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                with open(f"/proc/{me}/task/{me}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                children = []
            for pid in children:
                private, pss = _memory_mb(pid)
                old = peaks.get(pid, (0.0, 0.0))
                peaks[pid] = (max(old[0], private), max(old[1], pss))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    folder = _write_factsheets(ctx, stages["layers"].data, stages["suitability"], summary, allocation)
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    sheets = len(list(folder.glob("*.pdf")))
    with open("/proc/self/status") as f:
        parent = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    name = getattr(args.region, "name", args.region)
    print(f"{name}: {sheets} fact sheets in {seconds:.1f} s ({seconds / max(sheets, 1):.1f} s each); "
          f"this process {parent:,.0f} MB resident")
    for pid, (private, pss) in sorted(peaks.items()):
        print(f"sheet process {pid}: peak private {private:,.0f} MB, peak PSS {pss:,.0f} MB")


if __name__ == "__main__":
    main()
