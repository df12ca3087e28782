"""The whole job, stage by stage, each stage reusing its previous result while its inputs
are unchanged: layers → parcels → suitability → potential and balance → maps and exports.

Each stage records a key (checksums of its inputs and settings) in ``stages.json`` of the
output folder; a stage whose key matches and whose outputs exist is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from landuse import __version__
from landuse.config import Region, load_region, resolve_data_dir
from landuse.io import sha256_file, update_layers, write_json
from landuse.layers import LayerSet, config_hash, layer_store, store_paths

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
#: Column prefixes of scoring results on the parcels layer.
RESULT_PREFIXES = ("wind_", "pv_", "agroforestry_")


def _files_hash(*paths: Path) -> str:
    return config_hash(*[sha256_file(p) if p and Path(p).is_file() else str(p) for p in paths])


def _code(*modules: str) -> str:
    """Checksum of the package modules a stage runs: changed code reruns the stage."""
    return _files_hash(*[PACKAGE_DIR / m for m in modules])


def _criteria_files(criteria: str | os.PathLike | None) -> list[Path]:
    from landuse.criteria import CRITERIA_DIR, TECHNOLOGIES

    files = [CRITERIA_DIR / f"{t}.yaml" for t in TECHNOLOGIES] + [CRITERIA_DIR / "scenarios.yaml"]
    if criteria:
        c = Path(criteria)
        files += sorted(c.glob("*.yaml")) if c.is_dir() else [c]
    return files


@dataclass
class Stages:
    """The stage keys of an output folder (``stages.json``)."""

    path: Path
    keys: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, out: Path) -> Stages:
        path = out / "stages.json"
        keys = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(path, keys)

    def fresh(self, stage: str, key: str, *outputs: Path) -> bool:
        return self.keys.get(stage, {}).get("key") == key and all(Path(p).exists() for p in outputs)

    def done(self, stage: str, key: str, seconds: float) -> None:
        self.keys[stage] = {"key": key, "seconds": round(seconds, 1), "landuse_version": __version__}
        write_json(self.keys, self.path)


@dataclass
class StageResult:
    """What a stage produced and whether it was reused."""

    data: Any
    key: str
    reused: bool
    gpkg: Path | None = None
    summary: pd.DataFrame | None = None


def run_layers(region: Region, data=None, layers_dir=None, force: bool = False) -> StageResult:
    """Stage 1: the layer store (see :func:`landuse.layers.layer_store`)."""
    layerset, reused = layer_store(region, data=data, layers_dir=layers_dir, force=force)
    gpkg, _, _ = store_paths(region.name, layers_dir)
    key = layerset.manifest.get("gpkg_sha256") or (sha256_file(gpkg) if gpkg.exists() else "")
    return StageResult(layerset, key, reused, gpkg)


def run_parcels(region: Region, layers: StageResult, out: Path, data=None, force: bool = False) -> StageResult:
    """Stage 2: the parcel model, layer ``parcels`` of ``<out>/landuse.gpkg``."""
    from landuse.parcels import build_parcels, parcel_summary, write_parcels

    gpkg = out / "landuse.gpkg"
    key = config_hash(layers.key, region.sources.get("parcels"), __version__, _code("parcels.py"),
                      _files_hash(PACKAGE_DIR / "parameters" / "parcels.yaml",
                                  PACKAGE_DIR / "parameters" / "land_statistics.yaml"))
    stages = Stages.open(out)
    if not force and stages.fresh("parcels", key, gpkg):
        log.info("Parcels unchanged: reusing %s", gpkg)
        parcels = gpd.read_file(gpkg, layer="parcels").set_index("parcel_id")
        # the layer also carries the default scenario's scores: the model is the rest
        parcels = parcels.drop(columns=[c for c in parcels.columns if c.startswith(RESULT_PREFIXES)])
        return StageResult(parcels, key, True, gpkg, parcel_summary(parcels))
    import time

    t0 = time.perf_counter()
    parcels = build_parcels(layers.data, region.sources.get("parcels"), resolve_data_dir(region, data))
    write_parcels(parcels, gpkg)
    stages.done("parcels", key, time.perf_counter() - t0)
    return StageResult(parcels, key, False, gpkg, parcel_summary(parcels))


def scenario_dir(out: Path, scenario: str) -> Path:
    """Output folder of a scenario: the region's folder for the default, else a subfolder."""
    return out if scenario in (None, "", "default") else out / f"scenario-{scenario}"


def run_suitability(layers: StageResult, parcels: StageResult, out: Path, criteria=None,
                    scenario: str = "default", force: bool = False) -> StageResult:
    """Stage 3: scores, eligible areas and turbines of every technology, in ``landuse.gpkg``."""
    from landuse.criteria import load_rule_sets
    from landuse.suitability import municipality_summary, result_layers, score_all

    rule_sets = load_rule_sets(criteria, scenario)
    target = scenario_dir(out, scenario)
    gpkg = target / "landuse.gpkg"
    key = config_hash(parcels.key, scenario, __version__, _files_hash(*_criteria_files(criteria)),
                      _code("suitability.py", "placement.py", "criteria/__init__.py"))
    stages = Stages.open(target)
    if not force and stages.fresh("suitability", key, gpkg, target / "suitability_summary.csv"):
        log.info("Suitability (scenario %s) unchanged: reusing %s", scenario, gpkg)
        layers_out = {name: gpd.read_file(gpkg, layer=name) for name in _result_layer_names(gpkg)}
        summary = pd.read_csv(target / "suitability_summary.csv", index_col=0)
        return StageResult(layers_out, key, True, gpkg, summary)
    import time

    t0 = time.perf_counter()
    results = score_all(parcels.data, layers.data, rule_sets)
    layers_out = result_layers(parcels.data, results)
    update_layers(layers_out, gpkg)
    summary = municipality_summary(parcels.data, results)
    from landuse.stats import write_table

    write_table(summary, target / "suitability_summary.csv")
    stages.done("suitability", key, time.perf_counter() - t0)
    return StageResult(layers_out, key, False, gpkg, summary)


def _result_layer_names(gpkg: Path) -> list[str]:
    import pyogrio

    return [name for name, _ in pyogrio.list_layers(gpkg) if name.startswith(("parcels", *RESULT_PREFIXES))]


def run_score(region: Region | str, data=None, layers_dir=None, out: Path | None = None, criteria=None,
              scenario: str = "default", force: bool = False) -> StageResult:
    """Layers, parcels and suitability for a region (stages reused where inputs are unchanged)."""
    region = load_region(region) if not isinstance(region, Region) else region
    out = Path(out) if out else Path("outputs") / region.name
    layers = run_layers(region, data, layers_dir, force)
    parcels = run_parcels(region, layers, out, data, force)
    return run_suitability(layers, parcels, out, criteria, scenario, force)


def run_balance(region: Region, parcels: StageResult, suitability: StageResult, out: Path,
                parameters=None, scenario: str = "default", force: bool = False) -> StageResult:
    """Stage 4: potential per parcel and the balance (``summary.csv`` and table ``summary``).

    ``data`` of the result is ``(summary, potential)``; the summary holds one block of rows
    per share of the potential realised (the region config's ``balance.shares``).
    """
    from landuse.carbon import balance
    from landuse.criteria import load_rule_set
    from landuse.potential import default_parameters, parcel_potential
    from landuse.stats import write_table

    target = scenario_dir(out, scenario)
    gpkg = target / "landuse.gpkg"
    params_path = Path(parameters) if parameters else PACKAGE_DIR / "parameters" / "potential.yaml"
    key = config_hash(suitability.key, region.checksum(), _files_hash(params_path), __version__,
                      _code("potential.py", "carbon.py"))
    stages = Stages.open(target)
    csv = target / "summary.csv"
    if not force and stages.fresh("balance", key, csv, target / "potential.csv"):
        log.info("Balance unchanged: reusing %s", csv)
        summary = pd.read_csv(csv, index_col=0)
        potential = pd.read_csv(target / "potential.csv", index_col=0)
        return StageResult((summary, potential), key, True, gpkg, summary)
    import time

    t0 = time.perf_counter()
    scored = suitability.data["parcels"].set_index("parcel_id")
    turbine_mw = load_rule_set("wind").values["rated_power_mw"]
    potential = parcel_potential(scored, default_parameters(params_path), turbine_mw,
                                 region.balance.get("replaced_fuel", "heating_oil"))
    blocks = [balance(scored, potential, region, share) for share in sorted(set(region.balance["shares"]) | {1.0})]
    summary = pd.concat(blocks)
    write_table(summary, csv)
    write_table(potential, target / "potential.csv")
    update_layers({"summary": summary.reset_index()}, gpkg)
    stages.done("balance", key, time.perf_counter() - t0)
    return StageResult((summary, potential), key, False, gpkg, summary)


def run_outputs(region: Region, layers: StageResult, suitability: StageResult, bal: StageResult, out: Path,
                scenario: str = "default", embed: bool = True, force: bool = False) -> StageResult:
    """Stage 5: maps (``map.html``, ``map_<technology>.html``) and exports (GeoPackage with
    styles, Shapefiles, ``summary.csv``, ``landuse.xlsx``)."""
    from landuse.export import export_all
    from landuse.maps import write_maps
    from landuse.parameters import parameter_table
    from landuse.potential import default_parameters

    target = scenario_dir(out, scenario)
    key = config_hash(bal.key, embed, __version__, _code("maps.py", "export.py"))
    stages = Stages.open(target)
    expected = [target / "map.html", target / "landuse.xlsx", target / "shapefiles" / "fields.csv"]
    if not force and stages.fresh("outputs", key, *expected):
        log.info("Maps and exports unchanged: reusing %s", target)
        return StageResult(expected, key, True, target / "landuse.gpkg", bal.summary)
    import time

    t0 = time.perf_counter()
    summary, potential = bal.data
    results = {k: v for k, v in suitability.data.items()}
    attribution = layers.data.attribution if isinstance(layers.data, LayerSet) else []
    title = f"{region.title} — land-use potential" + ("" if scenario == "default" else f" ({scenario})")
    maps = write_maps(results, layers.data["boundaries"], target, potential, summary, attribution, embed, title)
    tables = {"suitability": suitability.summary, "parameters": parameter_table(default_parameters())}
    metadata = {"region": region.name, "scenario": scenario, "crs": "EPSG:25833", "landuse_version": __version__,
                "attribution": "; ".join(attribution),
                "sources": "; ".join(f"{s.get('source')}: {s.get('path') or s.get('type')} ({s.get('date')})"
                                     for s in layers.data.manifest.get("sources", []))}
    paths = export_all(results, target, summary, tables, metadata)
    stages.done("outputs", key, time.perf_counter() - t0)
    return StageResult([*maps, *paths.values()], key, False, paths["gpkg"], summary)


def run_all(region: Region | str = "leipzig-wurzen", data=None, layers_dir=None, out: Path | None = None,
            criteria=None, parameters=None, scenario: str = "default", force: bool = False,
            embed: bool = True, progress=None) -> dict[str, StageResult]:
    """The whole job: layers → parcels → suitability → balance → maps and exports.

    Each stage is skipped when its inputs are unchanged (``force`` reruns everything).
    ``progress`` is called with each stage's name before it runs (for progress bars).
    """
    region = load_region(region) if not isinstance(region, Region) else region
    out = Path(out) if out else Path("outputs") / region.name
    step = progress or (lambda name: None)
    res: dict[str, StageResult] = {}
    step("layers")
    res["layers"] = run_layers(region, data, layers_dir, force)
    step("parcels")
    res["parcels"] = run_parcels(region, res["layers"], out, data, force)
    step("suitability")
    res["suitability"] = run_suitability(res["layers"], res["parcels"], out, criteria, scenario, force)
    step("balance")
    res["balance"] = run_balance(region, res["parcels"], res["suitability"], out, parameters, scenario, force)
    step("outputs")
    res["outputs"] = run_outputs(region, res["layers"], res["suitability"], res["balance"], out, scenario, embed,
                                 force)
    return res


__all__ = ["LayerSet", "run_layers", "run_parcels", "run_suitability", "run_score", "run_balance", "run_outputs",
           "run_all", "scenario_dir"]
