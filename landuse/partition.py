"""Partitioned runs: a region split by municipality, the heavy stages of each part (layers,
parcels, suitability) scheduled on a Dask cluster, and the parts merged into the stage results
that the balance and the outputs take as from a single process.

Every part is a region of one municipality with the sources of the whole and the margin of the
rules in use, so features across its border count. What a municipality's results depend on is
the same in a part as in the whole: boundaries without overlaps by the lower AGS of every
neighbour in the file (:func:`landuse.sources.boundaries.without_overlaps`), distances capped at
the layers' reach (:func:`landuse.parcels.layer_reach_m`), turbines placed per municipality off
the border band (:func:`landuse.technologies.wind.border_band`) and PV patches per municipality.
So ``summary.csv`` of a partitioned run equals the single-process one.

The workers run on a :class:`dask.distributed.LocalCluster` (one thread and a memory limit per
worker) or on any cluster by its scheduler address; they must see the data and output folders
(a shared file system). Each part keeps its layer store and stage cache, so a rerun reuses them.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from landuse.config import WORKING_CRS, Region, region_from_mapping
from landuse.errors import ConfigError

log = logging.getLogger(__name__)

#: Seconds to wait for a scheduler given by address.
SCHEDULER_TIMEOUT_S = 10

#: Folder of the parts' layer stores (in the layers folder) and stage caches (in the output folder).
PARTS_FOLDER = "partitions"


@dataclass(frozen=True)
class Part:
    """One municipality of a partitioned run: its region mapping and where it keeps its files."""

    ags: str
    name: str
    raw: dict[str, Any]
    path: Path
    layers_dir: Path
    out: Path

    @property
    def region(self) -> Region:
        return region_from_mapping(self.raw, self.path)


def parts_of(region: Region, *, layers_dir: Path, out: Path) -> list[Part]:
    """One part per municipality of ``region`` (in AGS order).

    Parameters
    ----------
    region : Region
        Its municipalities need an AGS (the key of each part).
    layers_dir, out : Path
        The run's layers and output folders; each part gets ``<folder>/partitions/<ags>``.

    Returns
    -------
    list of Part

    Raises
    ------
    ConfigError
        A municipality without an AGS.
    """
    raw_munis = region.raw.get("municipalities") or []
    parts = []
    for k, m in enumerate(region.municipalities):
        if not m.ags:
            raise ConfigError(f"{region.path}: municipality {m.name!r} has no ags; a partitioned run (--workers) "
                              "keys its parts by AGS: add it to the region file.")
        entry = {**(raw_munis[k] if k < len(raw_munis) else {}), "name": m.name, "ags": m.ags, "group": m.group}
        # a part runs until the suitability: the emission loads stay with the whole region
        raw = {key: v for key, v in region.raw.items() if key != "baseline"}
        title = m.name if m.ags in (m.name or "") else f"{m.name} ({m.ags})"
        raw.update(name=f"{region.name}-{m.ags}", title=title, municipalities=[entry])
        parts.append(Part(m.ags, m.name, raw, region.path, Path(layers_dir) / PARTS_FOLDER / region.name,
                          Path(out) / ".landuse-cache" / PARTS_FOLDER / m.ags))
    return sorted(parts, key=lambda p: p.ags)


def run_part(part: Part, *, data: Path | None, criteria=None, scenario: str = "default", force: bool = False,
             allow_out_of_range: bool = False) -> dict[str, Any]:
    """Layers, parcels and suitability of one part (on a worker), cached in the part's folders.

    Returns
    -------
    dict
        ``ags``, ``out`` (the part's output folder with its stage cache), the stage keys, the
        layer store's ``manifest`` and ``boundaries``, ``seconds`` and the worker's peak memory
        ``peak_mb``.
    """
    from landuse.pipeline import run
    from landuse.stats import municipal_land_rows

    t0 = time.perf_counter()
    res = run(part.region, data=data, layers_dir=part.layers_dir, out=part.out, criteria=criteria,
              scenario=scenario, until="suitability", force=force, allow_out_of_range=allow_out_of_range)
    layers = res["layers"].data
    land = part.out / "land_rows.parquet"
    if not (res["layers"].reused and land.exists()):  # made from the layers only
        tmp = land.with_name(f".{land.name}.tmp")
        municipal_land_rows(layers).to_parquet(tmp)
        tmp.replace(land)
    return {"ags": part.ags, "out": str(part.out), "keys": {s: r.key for s, r in res.items()},
            "reused": {s: r.reused for s, r in res.items()},
            "manifest": layers.manifest, "boundaries": layers["boundaries"],
            "seconds": round(time.perf_counter() - t0, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _client(workers: int | None, scheduler: str | None, memory_limit: str | None):
    """A Dask client: to the cluster at ``scheduler``, else a LocalCluster of ``workers`` processes
    with one thread each."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ConfigError("--workers and --scheduler need dask[distributed]: pip install 'dask[distributed]'.") \
            from None
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s"), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answers there within "
                              f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__}). Start one (dask scheduler; dask worker "
                              f"{scheduler}) or use --workers N for a local cluster.") from None
    cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit or "auto", dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_parts(parts: list[Part], *, workers: int | None = None, scheduler: str | None = None,
              memory_limit: str | None = None, progress: bool = True, **options) -> list[dict[str, Any]]:
    """:func:`run_part` for every part on the cluster, with a progress bar over the parts.

    Parameters
    ----------
    parts : list of Part
    workers : int, optional
        Processes of the LocalCluster (default 1); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    memory_limit : str, optional
        Per worker of the LocalCluster (``"3GB"``; default ``"auto"``: the machine's memory
        shared by the workers).
    progress : bool
        Show a tqdm bar.
    **options
        Passed to :func:`run_part`.

    Returns
    -------
    list of dict
        The parts' records, in the order of ``parts``.
    """
    import dask
    from dask.distributed import as_completed
    from tqdm import tqdm

    # Dask's LocalCluster sets OMP_NUM_THREADS=1 (and the like) for its workers in this process's
    # environment too; they are put back after, so the main process keeps its threads
    # (landuse.geometry.thread_count) for the balance and the outputs
    spawn_environ = list(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ = {name: os.environ.get(name) for name in spawn_environ}
    client, cluster = _client(workers, scheduler, memory_limit)
    try:
        limits = {w["name"]: w.get("memory_limit") for w in client.scheduler_info()["workers"].values()}
        log.info("Dask: %d workers, memory limit per worker %s", len(limits),
                 ", ".join(sorted({f"{v / 2**30:.1f} GiB" if v else "none" for v in limits.values()})))
        futures = {client.submit(run_part, p, key=f"landuse-part-{p.ags}-{p.raw['name']}", pure=False, **options): p
                   for p in parts}
        records: dict[str, dict[str, Any]] = {}
        failed: dict[str, BaseException] = {}
        with tqdm(total=len(parts), unit="municipality", disable=not progress, desc="partitions") as bar:
            for future in as_completed(futures):
                part = futures[future]
                try:
                    rec = future.result()
                except Exception as exc:  # noqa: BLE001 - the others go on; all failures are told at the end
                    failed[part.ags] = exc
                    log.warning("Municipality %s (%s) failed: %s", part.name, part.ags, exc)
                    bar.set_postfix_str(f"{part.name} failed")
                else:
                    records[rec["ags"]] = rec
                    bar.set_postfix_str(f"{part.name} {rec['seconds']:.0f} s")
                bar.update()
        if failed:
            _raise_failures(parts, failed)
        return [records[p.ags] for p in parts]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        for name, value in environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _raise_failures(parts: list[Part], failed: dict[str, BaseException]) -> None:
    """One error for the parts that failed, after the others have finished (their stage caches
    are kept, so a rerun redoes only the failed ones). A defect (not a user error) is raised as
    it is, with its traceback."""
    from landuse.errors import LanduseError

    for exc in failed.values():
        if not isinstance(exc, LanduseError):
            raise exc
    names = {p.ags: p.name for p in parts}
    first_ags, first = next(iter(failed.items()))
    others = [f"{names[a]} ({a})" for a in failed if a != first_ags]
    if len(others) > 10:
        others = [*others[:10], f"and {len(others) - 10} more"]
    raise type(first)(f"{len(failed)} of {len(parts)} municipalities failed; {names[first_ags]} ({first_ags}): {first}"
                      + (f" Also failed (see the warnings above): {', '.join(others)}." if others else "")
                      + " The other municipalities are done and cached: a rerun redoes only the failed ones.")


def _merged_manifest(region: Region, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One manifest for the whole from the parts': notes that hold for some parts only say so."""
    manifests = [r["manifest"] for r in records]
    n = len(manifests)
    counts: dict[str, int] = {}
    for m in manifests:
        for note in m.get("notes", []):
            counts[note] = counts.get(note, 0) + 1
    notes = [note if k == n else f"{note} (in {k} of {n} municipalities)" for note, k in counts.items()]
    sources = list({(s.get("source"), s.get("path")): s for m in manifests for s in m.get("sources", [])}.values())
    first = manifests[0]
    return {**{k: first[k] for k in ("landuse_version", "crs", "margin_m", "reach_m", "rasters") if k in first},
            "region": region.name, "title": region.title, "created": max(m.get("created", "") for m in manifests),
            "region_area_ha": round(sum(m.get("region_area_ha", 0.0) for m in manifests), 1),
            "notes": notes, "sources": sources, "partitions": n,
            "partition_runs": [{"ags": r.get("ags"), "seconds": r.get("seconds"), "peak_mb": r.get("peak_mb")}
                               for r in records],
            "layers": {name: {"features": sum(m["layers"].get(name, {}).get("features", 0) for m in manifests),
                              "source": first["layers"][name].get("source", "")} for name in first.get("layers", {})}}


def merge_parts(region: Region, records: list[dict[str, Any]], *, technologies: list[str],
                scenario: str = "default"):
    """The parts' cached stage results as the whole region's.

    Parameters
    ----------
    region : Region
        The whole.
    records : list of dict
        As :func:`run_part` returns them.
    technologies : list of str
        The technologies scored (the rule sets in use).
    scenario : str

    Returns
    -------
    (LayerSet, GeoDataFrame, dict, DataFrame)
        Layers of the whole (the boundaries of every part, the merged manifest and the land
        statistics per municipality; not the features), parcels (indexed by ``parcel_id``, in the
        single-process order), the suitability layers and the suitability summary.
    """
    import pyarrow.parquet as pq

    from landuse import technologies as registry
    from landuse.cache import Cache
    from landuse.geometry import map_threads
    from landuse.layers import LayerSet
    from landuse.suitability import municipality_summary

    stage = f"suitability/{scenario or 'default'}"
    frames: dict[str, list] = {}
    # Parquet decoding and WKB parsing release the GIL: the parts are read on several threads
    for part in map_threads(lambda rec: Cache.open(Path(rec["out"])).read_frames(stage), records):
        for key, gdf in part.items():
            if key != "suitability_summary":
                frames.setdefault(key, []).append(gdf)
    # the single-process order: parcels by AGS and id (each part's in its own order), the
    # per-parcel layers in the parcels' order
    scored = pd.concat(frames.pop("parcels"), ignore_index=True)
    scored = scored.iloc[pd.Series(scored["ags"].astype(str).to_numpy()).argsort(kind="stable")].reset_index(drop=True)
    position = pd.Series(range(len(scored)), index=scored["parcel_id"].to_numpy())
    per_parcel = {f"{name}_{lyr.key}": lyr.per_parcel for name in technologies for lyr in registry.get(name).layers}
    merged: dict[str, gpd.GeoDataFrame] = {"parcels": scored}
    for key, pieces in frames.items():
        gdf = pd.concat(pieces, ignore_index=True)
        if "parcel_id" in gdf and per_parcel.get(key, True):
            gdf = gdf.iloc[position.reindex(gdf["parcel_id"]).to_numpy().argsort(kind="stable")]
        merged[key] = gdf.reset_index(drop=True)
    # the parcel model is the scored parcels' own columns: read again, its geometries would be
    # a second copy of the region's (about 1 GB for all of Saxony)
    columns = [c for c in pq.read_schema(Cache.open(Path(records[0]["out"])).path("parcels", "parcels.parquet")).names
               if c in scored.columns and c != "parcel_id"]
    parcels = scored.set_index("parcel_id")[columns]
    # boundaries and land statistics in the region's order of municipalities, as a single process has them
    rank = {m.ags: k for k, m in enumerate(region.municipalities)}
    in_order = sorted(records, key=lambda r: rank.get(r["ags"], len(rank)))
    bounds = gpd.GeoDataFrame(pd.concat([r["boundaries"] for r in in_order], ignore_index=True), crs=WORKING_CRS)
    land_rows = pd.concat([pd.read_parquet(Path(r["out"]) / "land_rows.parquet") for r in in_order])
    layers = LayerSet(layers={"boundaries": bounds}, manifest=_merged_manifest(region, records), land_rows=land_rows)
    scored = scored.set_index("parcel_id")
    results = {name: {"table": scored[[c for c in scored.columns if c.startswith(f"{name}_")]]
                      .rename(columns=lambda c, n=name: c.removeprefix(f"{n}_"))} for name in technologies}
    land_ha = pd.Series(bounds.geometry.area.to_numpy() / 1e4, index=bounds["name"].to_numpy())
    summary = municipality_summary(parcels, results, land_ha=land_ha.groupby(level=0).sum())
    return layers, parcels, merged, summary
