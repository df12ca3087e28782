"""The wind exclusions of the engine against a naive exact pass, in one process on the same data.

The naive pass is what one writes first: load the layers the rules use (``geopandas.read_file``
of the layer store), then for each rule buffer its features, dissolve them, and subtract the union
from every candidate parcel. It is timed with and without the loading (the issue's reference
includes it; the engine's figure does not, as its layers are in memory). The engine
(:func:`landuse.suitability.assess`) gives the same eligible area and, per rule, the share of each
parcel it excludes on its own.
Both use the same buffer resolution (QUAD_SEGS), so the naive pass is the exact reference. The
engine runs the rules on ``thread_count()`` threads (``LANDUSE_THREADS``; the machine's cores by
default) and is timed on one thread as well; the naive pass is one thread.

Usage: python benchmarks/bench_wind_exclusions.py [--region leipzig-wurzen | --ags KEYS] [--data DIR]
       [--work DIR] [--repeat 2] [--cold-run]
Target (issue #14): the engine >= 3x faster than the naive pass, <= 0.1 % area difference; a cold
`landuse run` <= 1.5x the naive pass (--cold-run measures it in the same process).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from common import peak_mb

from landuse.geometry import QUAD_SEGS, thread_count
from landuse.layers import LayerSet, store_paths
from landuse.pipeline import context, run, run_layers, run_parcels
from landuse.suitability import assess, rule_features


def naive_pass(parcels, layers, rules) -> np.ndarray:
    """Eligible geometry per candidate parcel: buffer, dissolve, subtract, rule by rule."""
    ok = parcels["class"].isin(rules.eligible_classes).to_numpy()
    for limit in rules.limits:
        v = parcels[limit.attribute].to_numpy(float) if limit.attribute in parcels else np.full(len(parcels), np.nan)
        with np.errstate(invalid="ignore"):
            ok &= ~((v > (limit.maximum if limit.maximum is not None else np.inf))
                    | (v < (limit.minimum if limit.minimum is not None else -np.inf)))
    eligible = parcels.geometry.values[ok]
    for rule in rules.exclusions:
        geoms = rule_features(layers, rule, rules.values).geometry.values
        if len(geoms) == 0:
            continue
        zones = (shapely.buffer(geoms, rule.buffer_m, quad_segs=QUAD_SEGS) if rule.buffer_m > 0
                 else geoms[shapely.get_dimensions(geoms) == 2])
        eligible = shapely.difference(eligible, shapely.union_all(zones))
    return eligible


def layers_used(parcels, layers, rules) -> list[str]:
    """The layers a naive pass reads (derived layers read their sources)."""
    used: list[str] = []

    class Recording(dict):
        def __getitem__(self, name):
            if name not in used:
                used.append(name)
            return super().__getitem__(name)

    recording = LayerSet(Recording({name: layers[name] for name in layers.layers}), layers.rasters, layers.manifest)
    naive_pass(parcels, recording, rules)
    return used


def naive_load(gpkg: Path, names: list[str], layers) -> LayerSet:
    """The layers ``names`` read from the layer store with plain ``geopandas.read_file``."""
    return LayerSet({name: gpd.read_file(gpkg, layer=name) for name in names}, layers.rasters, layers.manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold-run", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    known, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    from common import arguments, work_dir

    args = arguments(__doc__)
    work = work_dir(args, "bench-wind-")
    ctx = context(args.region, data=args.data, layers_dir=work / "layers", out=work / "out")
    layers = run_layers(ctx).data
    parcels = run_parcels(ctx, run_layers(ctx)).data
    rules = ctx.rule_sets["wind"]

    gpkg, _, _ = store_paths(ctx.region.name, ctx.layers_dir)
    used = layers_used(parcels, layers, rules)
    layers.derived.clear()
    threads = thread_count()
    naive_s = engine_s = single_s = load_s = float("inf")
    for _ in range(known.repeat):  # best of N: this machine's timings vary by a third from run to run
        t0 = time.perf_counter()
        table, eligible = assess(parcels, layers, rules)
        engine_s = min(engine_s, time.perf_counter() - t0)
        layers.derived.clear()  # each pass builds the building groups itself
        os.environ["LANDUSE_THREADS"] = "1"
        t0 = time.perf_counter()
        assess(parcels, layers, rules)
        single_s = min(single_s, time.perf_counter() - t0)
        os.environ.pop("LANDUSE_THREADS")
        layers.derived.clear()
        t0 = time.perf_counter()
        loaded = naive_load(gpkg, used, layers)
        t1 = time.perf_counter()
        reference = naive_pass(parcels, loaded, rules)
        naive_s = min(naive_s, time.perf_counter() - t1)
        load_s = min(load_s, t1 - t0)
        layers.derived.clear()
    ref_ha = shapely.area(reference).sum() / 1e4
    eng_ha = shapely.area(eligible).sum() / 1e4
    print(f"wind exclusions {ctx.region.name}: {len(rules.exclusions)} rules, {len(parcels):,} parcels")
    print(f"  best of {known.repeat}")
    print(f"  naive exact pass {naive_s:6.1f} s, eligible {ref_ha:10,.1f} ha (one thread); loading its layers "
          f"({', '.join(used)}) {load_s:.1f} s more")
    print(f"  engine (assess)  {engine_s:6.1f} s, eligible {eng_ha:10,.1f} ha on {threads} thread(s) "
          f"(difference {100 * (eng_ha - ref_ha) / ref_ha:+.4f} %; with the share of every rule per parcel)")
    print(f"  engine, one thread {single_s:4.1f} s")
    print(f"  ratio naive / engine: {naive_s / engine_s:.2f} on {threads} thread(s), {naive_s / single_s:.2f} on one "
          "(target >= 3)")
    if known.cold_run:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run(ctx.region, data=args.data, layers_dir=Path(tmp) / "layers", out=Path(tmp) / "out")
            cold = time.perf_counter() - t0
        print(f"  cold landuse run {cold:6.1f} s: {cold / (naive_s + load_s):.2f} x the naive pass with its loading, "
              f"{cold / naive_s:.2f} x without (target <= 1.5)")
    print(f"  peak memory {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
