"""The whole job, one path for every command: layers → parcels → suitability → balance →
outputs (maps, exports and fact sheets).

Every CLI command calls :func:`run` and stops where it needs to (``until``) or writes only some
outputs (``outputs``), so the same inputs give the same files whichever command wrote them.
Stage results live in the stage cache ``<out>/.landuse-cache/`` (:mod:`landuse.cache`) and are
reused while their key is unchanged; the deliverables (``landuse.gpkg``, ``shapefiles/``,
tables, maps, fact sheets) are written only by the output stage.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from landuse import __version__, schema
from landuse import technologies as registry
from landuse.cache import Cache, code_key, files_key
from landuse.config import WORKING_CRS, Region, load_region, resolve_data_dir
from landuse.criteria import RuleSet, load_rule_sets, max_buffer_m
from landuse.errors import ConfigError
from landuse.io import config_hash, sha256_file
from landuse.layers import LayerSet, layer_store, store_paths

if TYPE_CHECKING:
    from landuse.factsheet import SheetProcesses

log = logging.getLogger(__name__)

STAGES = ("layers", "parcels", "suitability", "balance", "outputs")
Stage = Literal["layers", "parcels", "suitability", "balance", "outputs"]
OUTPUTS = ("maps", "exports", "factsheets")
#: The module that writes each output (its code enters the output's cache key).
_OUTPUT_MODULES = {"maps": "landuse.maps", "exports": "landuse.export", "factsheets": "landuse.factsheet"}
#: Files besides Python code an output is made from (the map's own script and style).
_OUTPUT_FILES = {"maps": ("static/landuse-map.js", "static/landuse-map.css")}


def output_code_key(kind: str, *, package_dir: Path | None = None) -> str:
    """Checksum of the code (import closure) and asset files that write one output."""
    from landuse.cache import PACKAGE_DIR

    base = Path(package_dir) if package_dir else PACKAGE_DIR
    extra = tuple(base / f for f in _OUTPUT_FILES.get(kind, ()))
    return code_key(_OUTPUT_MODULES[kind], extra_files=extra, package_dir=base)


@dataclass
class StageResult:
    """What a stage produced, under which key, and whether it was reused from the cache."""

    data: Any
    key: str
    reused: bool
    summary: pd.DataFrame | None = None
    files: list[Path] | None = None


@dataclass(frozen=True)
class Context:
    """Everything a run depends on besides the stage results: the region and the options."""

    region: Region
    data: Path | None
    layers_dir: Path
    out: Path
    rule_sets: dict[str, RuleSet]
    allocation: Any
    parameters: Path | None
    scenario: str
    force: bool
    embed: bool
    load_year: int | None = None
    #: Values outside their declared range that the user allowed (``--allow-out-of-range``), for
    #: the metadata; filled while the run loads its files.
    out_of_range: list[str] | None = field(default=None, compare=False)

    @property
    def target(self) -> Path:
        """Output folder of the scenario: the region's folder for the default, else a subfolder."""
        return scenario_dir(self.out, self.scenario)

    @property
    def cache(self) -> Cache:
        return Cache.open(self.out)

    def stage(self, name: str) -> str:
        """Cache record name of a stage (scenario stages apart)."""
        return name if name in ("parcels",) else f"{name}/{self.scenario}"


def _give_back_freed_memory() -> None:
    """Hand the heap that a finished step freed back to the system. glibc keeps freed small
    blocks (GEOS geometries, pandas' objects) in its heap for reuse, so what the merge of all of
    Saxony's partitions or a writer freed would still count against the run's peak. No-op
    where the C library is not glibc."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def scenario_dir(out: Path, scenario: str) -> Path:
    """Output folder of a scenario: the region's folder for the default, else a subfolder."""
    return Path(out) if scenario in (None, "", "default") else Path(out) / f"scenario-{scenario}"


def context(region: Region | str = "leipzig-wurzen", *, data=None, layers_dir=None, out=None, criteria=None,
            parameters=None, scenario: str = "default", force: bool = False, embed: bool = True,
            load_year: int | None = None, out_of_range: list[str] | None = None) -> Context:
    """Load and check the configuration of a run (region, rule sets, parameter file) before any work."""
    from landuse.allocation import load_allocation

    region = region if isinstance(region, Region) else load_region(region)
    rule_sets = load_rule_sets(criteria, scenario)
    allocation = load_allocation(region)
    if load_year is not None:
        from landuse.carbon import dated_loads

        years = sorted(set(dated_loads(region)["year"].dropna().astype(int)))
        if load_year not in years:
            raise ConfigError(f"{region.path}: no emission load for {load_year}; the region declares "
                              f"{', '.join(map(str, years)) or 'none'} (baseline and baseline.loads).")
    if parameters is not None:
        from landuse.potential import default_parameters

        default_parameters(parameters)  # a broken parameter file fails now, not after the scoring
    return Context(region, Path(data) if data else None, Path(layers_dir) if layers_dir else Path("layers"),
                   Path(out) if out else Path("outputs") / region.name, rule_sets, allocation,
                   Path(parameters) if parameters else None, scenario or "default", force, embed, load_year,
                   out_of_range)


def _timed(cache: Cache, stage: str, key: str, compute: Callable[[], tuple[Any, dict[str, pd.DataFrame]]]):
    t0 = time.perf_counter()
    data, frames = compute()
    files = cache.write_frames(stage, frames)
    cache.done(stage, key, time.perf_counter() - t0, files)
    return data


# --- stages ---------------------------------------------------------------------------

def run_layers(ctx: Context, *, on_rebuild: Callable[[], Any] | None = None) -> StageResult:
    """Stage 1: the layer store (see :func:`landuse.layers.layer_store`), with at least the
    margin of the widest buffer of the rules in use; ``on_rebuild`` is called when it is built anew."""
    layerset, reused = layer_store(ctx.region, ctx.data, layers_dir=ctx.layers_dir,
                                   rules_margin_m=max_buffer_m(ctx.rule_sets), force=ctx.force,
                                   on_rebuild=on_rebuild)
    gpkg, _, _ = store_paths(ctx.region.name, ctx.layers_dir)
    # the store's checksum and its inputs' (rasters change the parcels' statistics, not the vector layers)
    key = config_hash(layerset.manifest.get("gpkg_sha256") or (sha256_file(gpkg) if gpkg.exists() else ""),
                      layerset.manifest.get("fingerprint"))
    return StageResult(layerset, key, reused, files=[gpkg])


def run_parcels(ctx: Context, layers: StageResult) -> StageResult:
    """Stage 2: the parcel model (cached as GeoParquet)."""
    from landuse.parameters import PARAMETER_DIR
    from landuse.parcels import build_parcels, parcel_summary

    data_dir = resolve_data_dir(ctx.region, ctx.data)
    spec = ctx.region.sources.get("parcels")
    parcel_file = data_dir / spec["path"] if spec and data_dir is not None and spec.get("path") else None
    # siting attributes only where a technology of the run can site (context parcels need none)
    site_classes = sorted({c for rules in ctx.rule_sets.values() for c in rules.eligible_classes})
    key = config_hash(layers.key, spec, files_key(parcel_file), code_key("landuse.parcels"), site_classes,
                      files_key(PARAMETER_DIR / "parcels.yaml", PARAMETER_DIR / "land_statistics.yaml"))
    cache, stage = ctx.cache, ctx.stage("parcels")
    if not ctx.force and cache.fresh(stage, key):
        log.info("Parcels unchanged: reusing the cache")
        parcels = cache.read_frames(stage)["parcels"]
        return StageResult(parcels, key, True, parcel_summary(parcels), cache.files(stage))

    def compute():
        parcels = build_parcels(layers.data, spec, data_dir, site_classes=site_classes)
        return parcels, {"parcels": parcels}

    parcels = _timed(cache, stage, key, compute)
    return StageResult(parcels, key, False, parcel_summary(parcels), cache.files(stage))


def land_rows_beside(ctx: Context, layers: StageResult) -> Callable[[], pd.DataFrame]:
    """The municipalities' land by statistical category (:func:`landuse.stats.municipal_land_rows`,
    for ``land_stats.csv``), from the stage cache or computed on a thread of its own.

    They depend on the layers alone, so a cold run computes them beside the parcel, suitability
    and balance stages, at the lowest priority (:func:`_in_background`): in the core time those
    leave idle, not in half of theirs (default region, cold run, measured together with the
    parcels' cut at borders only where they cross, which saves about 0.6 s: 40.4–41.2 s against
    43.1–45.1 s, the parcel stage 14.6–14.8 s against 18.3–19.7 s). The returned
    function waits for them and caches them; the cache is written by the calling thread only.
    """
    from landuse.stats import STATS_RULES, municipal_land_rows

    key, stage = config_hash(layers.key, code_key("landuse.stats"), files_key(STATS_RULES)), "land"
    if not ctx.force and ctx.cache.fresh(stage, key):
        rows = ctx.cache.read_frames(stage)["land_rows"]
        return lambda: rows
    t0 = time.perf_counter()
    pool = ThreadPoolExecutor(1, thread_name_prefix="land-rows")
    future = pool.submit(_in_background, municipal_land_rows, layers.data)
    pool.shutdown(wait=False)

    def collect() -> pd.DataFrame:
        rows = future.result()
        cache = ctx.cache  # opened now: the other stages have recorded theirs since
        cache.done(stage, key, time.perf_counter() - t0, cache.write_frames(stage, {"land_rows": rows}))
        return rows

    return collect


def _in_background(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` at the lowest scheduling priority, for this thread and the threads it starts.

    For work off the stages' path (the land statistics, needed by the exports only): it takes
    the core time the stages leave idle instead of halving theirs. Linux keeps a nice value per
    thread and gives it to the threads a thread starts; elsewhere this is a plain call.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    return func(*args)


def _rules_key(rule_sets: Mapping[str, RuleSet]) -> str:
    """Key of the rule sets in use (their parsed content) and of the technologies' code."""
    techs = [registry.get(name) for name in rule_sets]
    return config_hash({name: rs.fingerprint() for name, rs in rule_sets.items()},
                       code_key("landuse.suitability", extra_files=tuple(f for t in techs for f in t.source_files)))


def run_suitability(ctx: Context, layers: StageResult, parcels: StageResult, *, progress=None) -> StageResult:
    """Stage 3: exclusions, scores, eligible areas and each technology's own layers.

    ``data`` is the dict of result layers (``parcels`` with every technology's columns and the
    technologies' layers, see :func:`landuse.suitability.result_layers`).
    """
    from landuse.suitability import municipality_summary, result_layers, score_all

    key = config_hash(parcels.key, _rules_key(ctx.rule_sets))
    cache, stage = ctx.cache, ctx.stage("suitability")
    if not ctx.force and cache.fresh(stage, key):
        log.info("Suitability (scenario %s) unchanged: reusing the cache", ctx.scenario)
        frames = cache.read_frames(stage)
        summary = frames.pop("suitability_summary")
        return StageResult(frames, key, True, summary, cache.files(stage))

    def compute():
        results = score_all(parcels.data, layers.data, ctx.rule_sets, progress=progress)
        frames = result_layers(parcels.data, results)
        boundaries = layers.data["boundaries"]
        land_ha = pd.Series(boundaries.geometry.area.to_numpy() / 1e4, index=boundaries["name"].to_numpy())
        summary = municipality_summary(parcels.data, results, land_ha=land_ha.groupby(level=0).sum())
        return (frames, summary), {**frames, "suitability_summary": summary}

    frames, summary = _timed(cache, stage, key, compute)
    return StageResult(frames, key, False, summary, cache.files(stage))


def run_balance(ctx: Context, layers: StageResult, suitability: StageResult) -> StageResult:
    """Stage 4: the technical potential per parcel, the allocation (one use per hectare: the
    realistic tier) and the balance of both tiers in both frames, per municipality, group and
    region, one block of rows per tier and share realised (the region's ``balance.shares``).

    ``data`` is ``(summary, potential, allocation)``: the balance, the technical and realistic
    potential per parcel (column ``tier``), and the ``allocation`` layer (parcel parts by use).
    """
    from landuse.allocation import allocate, claims, realistic_potential
    from landuse.carbon import TIERS, balance
    from landuse.potential import parcel_potential, potential_parameters

    params_file = ctx.parameters
    key = config_hash(suitability.key, ctx.region.checksum(), files_key(params_file), ctx.load_year,
                      ctx.allocation.model_dump(mode="json"),
                      code_key("landuse.potential", "landuse.carbon", "landuse.allocation"))
    cache, stage = ctx.cache, ctx.stage("balance")
    if not ctx.force and cache.fresh(stage, key):
        log.info("Balance unchanged: reusing the cache")
        f = cache.read_frames(stage)
        return StageResult((f["summary"], f["potential"], f["allocation"]), key, True, f["summary"],
                           cache.files(stage))

    def compute():
        scored = suitability.data["parcels"].set_index("parcel_id")
        params = potential_parameters(ctx.rule_sets, params_file)
        technical = parcel_potential(scored, rule_sets=ctx.rule_sets, params=params, options=ctx.region.balance)
        boundaries = layers.data["boundaries"]
        area_ha = dict(zip(boundaries["name"], boundaries.geometry.area / 1e4, strict=True))
        claimed = claims(scored, technical, suitability.data, rule_sets=ctx.rule_sets,
                         objective=ctx.allocation.objective)
        units, parts = allocate(scored, technical, suitability.data, rule_sets=ctx.rule_sets,
                                config=ctx.allocation, municipal_area_ha=area_ha, claimed=claimed)
        realistic = realistic_potential(technical, claimed.units, units)
        parts = _part_flows(parts, realistic)
        shares = sorted(set(ctx.region.balance["shares"]) | {1.0})
        tiers = {"realistic": realistic, "technical": technical}
        summary = pd.concat([balance(scored, tiers[t], ctx.region, share, tier=t, load_year=ctx.load_year)
                             for t in TIERS for share in shares])
        potential = pd.concat([tiers[t].assign(tier=t) for t in TIERS])
        return (summary, potential, parts), {"summary": summary, "potential": potential, "allocation": parts}

    summary, potential, parts = _timed(cache, stage, key, compute)
    return StageResult((summary, potential, parts), key, False, summary, cache.files(stage))


def _part_flows(parts: gpd.GeoDataFrame, realistic: pd.DataFrame) -> gpd.GeoDataFrame:
    """Each allocated part with its yearly t CO2e/a (avoided + sequestered, central) in both frames."""
    from landuse.technologies import get

    avoided, territorial = np.zeros(len(parts)), np.zeros(len(parts))
    uses = parts["use"].to_numpy()
    for use in pd.unique(uses):  # per use, not per part (a row lookup each: 0.7 s of the default region's balance)
        mine = uses == use
        rows = realistic.loc[parts["parcel_id"].to_numpy()[mine]]
        outs = [o for o in get(use).outputs if o.in_total and o.kind in ("avoided", "sequestered")]
        # added in the outputs' order, as the sum of each part's outputs was
        avoided[mine] = sum((rows[o.column].to_numpy(float) for o in outs), np.zeros(mine.sum()))
        territorial[mine] = sum((rows[o.column].to_numpy(float) for o in outs if o.territorial), np.zeros(mine.sum()))
    return parts.assign(avoided_t_co2e_a=avoided, territorial_t_co2e_a=territorial)


def export_timestamp(layers: LayerSet) -> str:
    """The change date written into exports: ``$SOURCE_DATE_EPOCH`` when set (reproducible
    builds), else the time the layer store was built; so the same inputs give the same files."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else
            dt.datetime.fromisoformat(layers.manifest.get("created", "1980-01-01T00:00:00+00:00")))
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def output_files(ctx: Context, outputs: tuple[str, ...]) -> list[Path]:
    """The deliverables the output stage writes for ``outputs`` (``maps``, ``exports``, ``factsheets``)."""
    from landuse.maps import map_files

    files = []
    if "maps" in outputs:
        files += [ctx.target / f for f in map_files(list(ctx.rule_sets))]
    if "exports" in outputs:
        files += [ctx.target / f for f in ("landuse.gpkg", "shapefiles", "summary.csv", "landuse.xlsx",
                                           "land_stats.csv")]
    if "factsheets" in outputs:
        from landuse.factsheet import FOLDER

        files.append(ctx.target / FOLDER)
    return files


def run_outputs(ctx: Context, layers: StageResult, suitability: StageResult, bal: StageResult, *,
                outputs: tuple[str, ...] = OUTPUTS,
                sheet_processes: SheetProcesses | None = None) -> StageResult:
    """Stage 5: maps (``map.html``, ``map_<technology>.html``), exports (``landuse.gpkg`` with
    QGIS styles, ``shapefiles/``, ``summary.csv``, ``land_stats.csv``, ``landuse.xlsx``) and fact
    sheets (``factsheets/<municipality>.pdf``), these in ``sheet_processes`` where they were started
    ahead (:func:`landuse.factsheet.start_sheet_processes`)."""
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"outputs must be among {OUTPUTS}, got {sorted(unknown)}")
    from landuse.io import clean_temporary

    clean_temporary(ctx.target)  # leftovers of an interrupted run: half-written files, a cut folder swap
    _give_back_freed_memory()
    summary, potential, parts = bal.data
    realistic = potential[potential["tier"] == "realistic"].drop(columns="tier")
    cache = ctx.cache
    written: list[Path] = []
    due: dict[str, tuple[str, str]] = {}
    for kind in [o for o in OUTPUTS if o in outputs]:
        key = config_hash(bal.key, kind, ctx.embed if kind == "maps" else None, files_key(ctx.parameters),
                          output_code_key(kind))
        stage, files = ctx.stage(kind), output_files(ctx, (kind,))
        written += files
        if not ctx.force and cache.fresh(stage, key, *files):
            log.info("%s unchanged: reusing %s", kind.capitalize(), ctx.target)
            continue
        due[kind] = (stage, key)

    def write(kind: str) -> None:
        stage, key = due[kind]
        t0 = time.perf_counter()
        if kind == "maps":
            _write_maps(ctx, layers.data, suitability, summary, realistic, parts)
        else:
            _write_exports(ctx, layers.data, {**suitability.data, "allocation": parts}, suitability.summary, summary)
        cache.done(stage, key, time.perf_counter() - t0)
        _give_back_freed_memory()

    def write_others() -> None:
        for kind in due:
            if kind != "factsheets":
                write(kind)

    if "factsheets" in due:
        # the maps and exports are written here while the fact-sheet processes draw
        stage, key = due["factsheets"]
        t0 = time.perf_counter()
        _write_factsheets(ctx, layers.data, suitability, summary, parts, meanwhile=write_others,
                          processes=sheet_processes)
        cache.done(stage, key, time.perf_counter() - t0)
    else:
        write_others()
    reused = not due
    return StageResult(written, config_hash(bal.key, outputs), reused, summary, written)


def _title(ctx: Context) -> str:
    return f"{ctx.region.title} — land-use potential" + ("" if ctx.scenario == "default" else f" ({ctx.scenario})")


def _write_maps(ctx: Context, layers: LayerSet, suitability: StageResult, summary, potential, parts) -> list[Path]:
    from landuse.maps import write_maps

    return write_maps(suitability.data, layers["boundaries"], ctx.target, potential=potential, summary=summary,
                      attribution=layers.attribution, technologies=list(ctx.rule_sets), allocation=parts,
                      rules=ctx.rule_sets, embed=ctx.embed, title=_title(ctx))


def _write_factsheets(ctx: Context, layers: LayerSet, suitability: StageResult, summary, parts, *,
                      meanwhile: Callable[[], Any] | None = None,
                      processes: SheetProcesses | None = None) -> Path:
    from landuse.factsheet import FOLDER, SheetInputs, write_factsheets

    inputs = SheetInputs(
        results=suitability.data, boundaries=layers["boundaries"], summary=summary, allocation=parts,
        suitability=suitability.summary, rule_sets=ctx.rule_sets, manifest=layers.manifest,
        attribution=layers.attribution, title=ctx.region.title, scenario=ctx.scenario, baseline=ctx.region.baseline,
        parameters=(f"{ctx.parameters.name} (sha256 {sha256_file(ctx.parameters)[:12]})" if ctx.parameters
                    else "landuse default (landuse/parameters/potential.yaml)"),
        out_of_range=list(getattr(ctx, "out_of_range", None) or []))
    return write_factsheets(inputs, ctx.target / FOLDER, meanwhile=meanwhile, processes=processes)


def _write_exports(ctx: Context, layers: LayerSet, results: dict, suitability_summary, summary) -> dict[str, Path]:
    from landuse.carbon import frame_table, trajectory
    from landuse.export import export_all
    from landuse.io import write_table
    from landuse.parameters import parameter_table
    from landuse.potential import potential_parameters
    from landuse.stats import land_statistics

    params = potential_parameters(ctx.rule_sets, ctx.parameters)
    tables = {"frames": frame_table(summary), "trajectory": trajectory(summary, ctx.region),
              "suitability": suitability_summary,
              "parameters": parameter_table(params)}
    metadata = {
        "region": ctx.region.name, "title": ctx.region.title, "scenario": ctx.scenario, "crs": WORKING_CRS,
        "landuse_version": __version__, "technologies": ", ".join(ctx.rule_sets),
        # names and checksums, no local paths: the same inputs give the same file anywhere
        "parameters": (f"{ctx.parameters.name} (sha256 {sha256_file(ctx.parameters)[:12]})" if ctx.parameters
                       else "landuse default (landuse/parameters/potential.yaml)"),
        "attribution": "; ".join(layers.attribution),
        "notes": "; ".join(layers.manifest.get("notes", [])) or "none",
        "out_of_range": "; ".join(ctx.out_of_range or []) or "none (every value inside its declared range)",
        "sources": "; ".join(f"{s.get('source')}: {s.get('path') or s.get('type')} ({s.get('date')})"
                             for s in layers.manifest.get("sources", [])),
    }
    paths = export_all(results, ctx.target, summary=summary, tables=tables, metadata=metadata,
                       timestamp=export_timestamp(layers), data_dir=resolve_data_dir(ctx.region, ctx.data))
    paths["land_stats"] = write_table(land_statistics(layers, ctx.region), ctx.target / "land_stats.csv")
    return paths


# --- one path for every command ---------------------------------------------------------

def run(region: Region | str = "leipzig-wurzen", *, data=None, layers_dir=None, out=None, criteria=None,
        parameters=None, scenario: str = "default", until: Stage = "outputs", outputs: tuple[str, ...] = OUTPUTS,
        force: bool = False, embed: bool = True, load_year: int | None = None,
        allow_out_of_range: bool = False, workers: int | None = None, scheduler: str | None = None,
        worker_memory: str | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, StageResult]:
    """The job up to stage ``until``; each stage is reused while its key is unchanged.

    Parameters
    ----------
    region : Region or str
        Region config, or the name or path of one.
    data : path-like, optional
        Data directory (default: ``$LANDUSE_DATA``, ``../shared/data/<region>``, else online).
    layers_dir : path-like, optional
        Folder of the layer store (default ``layers/``).
    out : path-like, optional
        Output folder (default ``outputs/<region>``); the stage cache is ``<out>/.landuse-cache``.
    criteria : path-like, optional
        Folder of rule files or one rule file (default: each technology's own).
    parameters : path-like, optional
        Parameter file (a copy of ``landuse/parameters/potential.yaml``).
    scenario : str
        Named rule variant (``scenarios.yaml``); results go to ``<out>/scenario-<name>/``.
    until : {"layers", "parcels", "suitability", "balance", "outputs"}
        Last stage to run.
    outputs : tuple of {"maps", "exports", "factsheets"}
        What the output stage writes.
    force : bool
        Rerun every stage.
    embed : bool
        Embed the maps' JS/CSS (they open offline).
    load_year : int, optional
        Hold the balance against the emission loads of this year (``baseline.loads``; default
        the baseline year).
    allow_out_of_range : bool
        Accept values outside their declared ranges; each is logged and recorded in the
        metadata (``out_of_range``).
    workers : int, optional
        Partition the run by municipality on a local Dask cluster of this many worker processes
        (:mod:`landuse.partition`): layers, parcels and suitability per municipality, merged; the
        results equal a single-process run's.
    scheduler : str, optional
        Address of a running Dask scheduler to partition on instead (``tcp://host:8786``).
    worker_memory : str, optional
        Memory limit per local worker (``"3GB"``; default: the machine's memory shared).
    progress : callable, optional
        Called with each stage's name before it runs.

    Returns
    -------
    dict of str to StageResult
        By stage name, the stages that ran.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    with schema.out_of_range_allowed() if allow_out_of_range else contextlib.nullcontext() as allowed:
        ctx = context(region, data=data, layers_dir=layers_dir, out=out, criteria=criteria, parameters=parameters,
                      scenario=scenario, force=force, embed=embed, load_year=load_year, out_of_range=allowed)
        partitioned = None
        if workers or scheduler:
            partitioned = {"workers": workers, "scheduler": scheduler, "memory_limit": worker_memory,
                           "criteria": criteria, "allow_out_of_range": allow_out_of_range}
        return _run_stages(ctx, until, outputs, progress, partitioned=partitioned)


def run_partitioned(ctx: Context, *, workers: int | None = None, scheduler: str | None = None,
                    memory_limit: str | None = None, criteria=None,
                    allow_out_of_range: bool = False) -> dict[str, StageResult]:
    """Stages 1–3 per municipality on a Dask cluster (:mod:`landuse.partition`), merged into the
    whole region's layers, parcels and suitability."""
    from landuse.config import resolve_data_dir
    from landuse.parcels import parcel_summary
    from landuse.partition import merge_parts, parts_of, run_parts

    parts = parts_of(ctx.region, layers_dir=ctx.layers_dir, out=ctx.out)
    records = run_parts(parts, workers=workers, scheduler=scheduler, memory_limit=memory_limit,
                        data=resolve_data_dir(ctx.region, ctx.data), criteria=criteria, scenario=ctx.scenario,
                        force=ctx.force, allow_out_of_range=allow_out_of_range)
    layers, parcels, frames, summary = merge_parts(ctx.region, records, technologies=list(ctx.rule_sets),
                                                   scenario=ctx.scenario)
    _give_back_freed_memory()
    keys = {stage: config_hash([r["keys"][stage] for r in records]) for stage in ("layers", "parcels", "suitability")}
    reused = {stage: all(r["reused"][stage] for r in records) for stage in keys}
    log.info("Partitions: %d municipalities; slowest %.0f s; peak memory per worker %d MB",
             len(records), max(r["seconds"] for r in records), max(r["peak_mb"] for r in records))
    return {"layers": StageResult(layers, keys["layers"], reused["layers"]),
            "parcels": StageResult(parcels, keys["parcels"], reused["parcels"], parcel_summary(parcels)),
            "suitability": StageResult(frames, config_hash(keys["suitability"], _rules_key(ctx.rule_sets)),
                                       reused["suitability"], summary)}


def _run_stages(ctx: Context, until: Stage, outputs: tuple[str, ...],
                progress: Callable[[str], None] | None, *, partitioned: dict | None = None) -> dict[str, StageResult]:
    step = progress or (lambda name: None)
    last = STAGES.index(until)
    res: dict[str, StageResult] = {}
    land_rows: Callable[[], pd.DataFrame] | None = None
    sheets = None

    def start_sheets() -> None:
        # a store built anew changes every later stage: the fact sheets are due, and their
        # processes load their code while the layers are built (mostly on one core)
        nonlocal sheets
        from landuse.factsheet import start_sheet_processes

        sheets = start_sheet_processes(len(ctx.region.municipalities))

    try:
        if partitioned is not None:
            for name in STAGES[:3]:
                step(name)
            merged = run_partitioned(ctx, **partitioned)
            res.update({k: v for k, v in merged.items() if STAGES.index(k) <= last})
        else:
            step("layers")
            res["layers"] = run_layers(ctx, on_rebuild=start_sheets if last >= 4 and "factsheets" in outputs
                                       else None)
            if last >= 4 and "exports" in outputs:
                land_rows = land_rows_beside(ctx, res["layers"])
            if last >= 1:
                step("parcels")
                res["parcels"] = run_parcels(ctx, res["layers"])
            if last >= 2:
                step("suitability")
                res["suitability"] = run_suitability(ctx, res["layers"], res["parcels"])
        if last >= 3:
            step("balance")
            res["balance"] = run_balance(ctx, res["layers"], res["suitability"])
        if last >= 4:
            step("outputs")
            if land_rows is not None:
                res["layers"].data.land_rows = land_rows()
            res["outputs"] = run_outputs(ctx, res["layers"], res["suitability"], res["balance"], outputs=outputs,
                                         sheet_processes=sheets)
    finally:
        if sheets is not None:  # ended by the sheets they drew, or unused (an error, the sheets up to date)
            sheets.close()
    return res


__all__ = ["run", "context", "Context", "StageResult", "run_layers", "run_parcels", "run_suitability", "run_balance",
           "run_outputs", "run_partitioned", "scenario_dir", "export_timestamp", "STAGES", "OUTPUTS"]
