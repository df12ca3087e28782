"""Command-line interface: a thin click wrapper, each command calling one library function.

Exit codes: 0 ok; 1 a user error (bad input, configuration or output location: one line,
no traceback unless -v); 2 a usage error (click).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from pathlib import Path

import click

from landuse import __version__, schema
from landuse.config import DEFAULT_REGION, load_region
from landuse.errors import LanduseError

log = logging.getLogger("landuse")


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    # libraries' own progress chatter (font subsetting of every fact sheet, font cache) is not
    # the run's: -v shows the run's steps, -vv everything
    for name in ("pyogrio", "fontTools", "matplotlib"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING) if verbosity < 2 else level)
    # GDAL's own chatter on damaged files: the error we raise names the file; -v shows it
    logging.getLogger("rasterio._env").setLevel(logging.ERROR if verbosity < 1 else level)


def _user_errors(func):
    """Print user errors as one line and exit 1; with -v show the traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except LanduseError as exc:
            if ctx.obj.get("verbosity", 0) > 0:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper


region_option = click.option(
    "--region", "-r", default=DEFAULT_REGION, show_default=True,
    help="Name of a shipped region config or path of a region YAML file.",
)
data_option = click.option(
    "--data", "-d", type=click.Path(path_type=Path), default=None,
    help="Data directory (default: $LANDUSE_DATA, else ../shared/data/<region>, else online).",
)
layers_dir_option = click.option(
    "--layers-dir", type=click.Path(path_type=Path), default=Path("layers"), show_default=True,
    help="Folder of the layer store.",
)
out_option = click.option(
    "--out", "-o", type=click.Path(path_type=Path), default=None,
    help="Output folder (default: outputs/<region>).",
)
force_option = click.option("--force", is_flag=True, help="Rebuild even if inputs are unchanged.")


def _options(*options):
    """One decorator applying several click options in the order given."""
    def apply(func):
        for option in reversed(options):
            func = option(func)
        return func
    return apply


ags_option = click.option(
    "--ags", default=None, metavar="KEYS",
    help="An ad-hoc Saxon region instead of --region: AGS or key prefixes, comma-separated (14625020 Bautzen; "
         "14729 Landkreis Leipzig; 14 all of Saxony); data from --data or ../shared/data.",
)

#: Where the data, the layer store and the output folder (with the stage cache) are.
output_options = _options(region_option, ags_option, data_option, layers_dir_option, out_option)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug); tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(__version__, prog_name="landuse")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """landuse: land-use potential for agroforestry, open-space PV and wind, with the
    carbon balance against the urban emission load."""
    verbosity = -1 if quiet else verbose
    ctx.ensure_object(dict)["verbosity"] = verbosity
    _setup_logging(verbosity)


def _run(ctx_options: dict, **kwargs):
    """The pipeline (:func:`landuse.pipeline.run`) with a progress bar over its stages."""
    from tqdm import tqdm

    from landuse.pipeline import STAGES, run

    until = kwargs.get("until", "outputs")
    quiet = click.get_current_context().obj.get("verbosity", 0) < 0
    with tqdm(total=STAGES.index(until) + 1, desc="landuse", unit="stage", disable=quiet or None) as bar:
        def step(name):
            bar.set_postfix_str(name)
            if step.started:
                bar.update(1)
            step.started = True
        step.started = False
        res = run(**ctx_options, **kwargs, progress=step)
        bar.update(1)
    return res


def _target(kwargs: dict) -> Path:
    """The output folder a run with these options writes to."""
    from landuse.pipeline import context

    return context(**{k: v for k, v in kwargs.items() if k != "allow_out_of_range"}).target


def _stages_line(res) -> str:
    return "Stages: " + ", ".join(f"{k} {'reused' if v.reused else 'built'}" for k, v in res.items())


criteria_option = click.option(
    "--criteria", type=click.Path(path_type=Path), default=None,
    help="Folder of rule files (<technology>.yaml; missing ones: the defaults) or one rule file.",
)
scenario_option = click.option(
    "--scenario", "-s", default="default", show_default=True,
    help="Named rule variant from scenarios.yaml (e.g. wind_750m, wind_no_forest).",
)
parameters_option = click.option(
    "--parameters", "-p", type=click.Path(path_type=Path), default=None,
    help="Parameter file (copy of landuse/parameters/potential.yaml) for potential and balance.",
)
embed_option = click.option("--embed/--no-embed", default=True, show_default=True,
                            help="Embed the map's JS/CSS so it opens offline (tiles aside).")

load_year_option = click.option(
    "--load-year", type=int, default=None,
    help="Hold the balance against the emission loads of this year (baseline.loads; default: the baseline).",
)

allow_out_of_range_option = click.option(
    "--allow-out-of-range", is_flag=True,
    help="Accept values outside their declared ranges (each is logged and recorded in the metadata).",
)

#: The options of every command that runs the pipeline.
pipeline_options = _options(output_options, criteria_option, scenario_option, parameters_option, load_year_option,
                            allow_out_of_range_option)


def _pipeline_kwargs(region, data, layers_dir, out, ags=None, criteria=None, scenario="default", parameters=None,
                     load_year=None, allow_out_of_range=False) -> dict:
    if allow_out_of_range:  # the region file is read here, before the run: allow from now to the command's end
        click.get_current_context().with_resource(schema.out_of_range_allowed())
    if ags:
        from landuse.adhoc import region_from_ags
        from landuse.config import shared_data_root

        data = data or shared_data_root()
        region_cfg = region_from_ags(ags, data_root=data)
    else:
        region_cfg = load_region(region)
    return {"region": region_cfg, "data": data, "layers_dir": layers_dir, "out": out, "criteria": criteria,
            "scenario": scenario, "parameters": parameters, "load_year": load_year,
            "allow_out_of_range": allow_out_of_range}


@main.command()
@pipeline_options
@force_option
@_user_errors
def layers(force: bool, **options) -> None:
    """Build the canonical layer store layers/<region>.gpkg (reused while inputs are unchanged)."""
    t0 = time.perf_counter()
    res = _run(_pipeline_kwargs(**options), until="layers", force=force)["layers"]
    state = "reused (inputs unchanged)" if res.reused else "built"
    click.echo(f"Layer store {res.files[0]} {state} in {time.perf_counter() - t0:.1f} s")
    for name, gdf in res.data.layers.items():
        click.echo(f"  {name:16} {len(gdf):>8,} features")
    for key, path in res.data.rasters.items():
        click.echo(f"  raster {key:9} {path}")


@main.command()
@pipeline_options
@_user_errors
def stats(**options) -> None:
    """Land statistics per municipality and group (ha) beside the baseline (written by export as land_stats.csv)."""
    from landuse.stats import format_statistics, land_statistics

    kwargs = _pipeline_kwargs(**options)
    res = _run(kwargs, until="layers")["layers"]
    click.echo(format_statistics(land_statistics(res.data, kwargs["region"])))


@main.command()
@pipeline_options
@_user_errors
def parcels(**options) -> None:
    """Build the parcel model (stage cache; `landuse export` writes it to landuse.gpkg)."""
    t0 = time.perf_counter()
    res = _run(_pipeline_kwargs(**options), until="parcels")["parcels"]
    model = res.data
    click.echo(res.summary.to_string())
    click.echo(f"{len(model):,} parcels ({int(model['candidate'].sum()):,} candidates, ha per class above) "
               f"{'reused' if res.reused else 'built'} in {time.perf_counter() - t0:.1f} s")


@main.command()
@pipeline_options
@_user_errors
def score(**options) -> None:
    """Score parcels for every technology (exclusions, scores, eligible areas, turbines)."""
    t0 = time.perf_counter()
    res = _run(_pipeline_kwargs(**options), until="suitability")
    click.echo(res["suitability"].summary.to_string())
    click.echo(f"{_stages_line(res)} ({time.perf_counter() - t0:.1f} s); `landuse export` writes the layers.")


@main.command()
@pipeline_options
@click.option("--variants", default="", help="Rule variants to compare side by side, comma-separated "
              "(names from scenarios.yaml, e.g. wind_750m,wind_no_forest): writes scenarios.csv.")
@click.option("--snapshot", is_flag=True, help="Save the balance as monitoring/balance_<date>.csv.")
@click.option("--compare", "compare_to", type=click.Path(exists=True, path_type=Path), default=None,
              help="An earlier snapshot CSV: print what changed (indicator table).")
@_user_errors
def balance(variants: str, snapshot: bool, compare_to: Path | None, **options) -> None:
    """Potential and carbon balance against the emission load."""
    import pandas as pd

    from landuse.carbon import (
        compare_snapshots,
        format_balance,
        frame_table,
        headline_columns,
        save_snapshot,
        side_by_side,
        trajectory,
    )
    from landuse.io import write_table

    kwargs = _pipeline_kwargs(**options)
    summary = _run(kwargs, until="balance")["balance"].summary
    target = _target(kwargs)
    for (tier, share), block in summary.groupby(["tier", "share_realised"], sort=False):
        click.echo(f"-- {tier} tier, {share:.0%} of the potential realised")
        click.echo(format_balance(block))
    click.echo(frame_table(summary).to_string())
    click.echo("-- trajectory: the realistic potential against every dated load")
    click.echo(trajectory(summary, kwargs["region"]).round(3).to_string())
    full = summary[(summary["share_realised"] == summary["share_realised"].max()) & (summary["tier"] == "realistic")]
    if variants:
        summaries = {kwargs["scenario"]: summary}
        for name in [v.strip() for v in variants.split(",") if v.strip()]:
            summaries[name] = _run({**kwargs, "scenario": name}, until="balance")["balance"].summary
        table = side_by_side(summaries)
        click.echo("-- rule variants side by side (region)")
        click.echo(table.xs("Region", level="area")[[*headline_columns(), "coverage_avoided_share",
                                                     "coverage_territorial_share"]].to_string())
        click.echo(f"Written: {write_table(table, target / 'scenarios.csv')}")
    if snapshot:
        click.echo(f"Snapshot: {save_snapshot(full, target / 'monitoring')}")
    if compare_to is not None:
        table = compare_snapshots(pd.read_csv(compare_to, index_col=0), full)
        changed = table[table["change"].abs() > 1e-9]
        click.echo(changed.to_string(index=False) if len(changed) else "No change against the snapshot.")
    click.echo("Balance in t CO2e/a (low/central/high); `landuse export` writes summary.csv.")


@main.command()
@output_options
@parameters_option
@click.option("--site", required=True, help="Heating network: municipality name, 'lon,lat' or 'x,y' (EPSG:25833).")
@click.option("--demand", "demand_mwh", type=float, required=True, help="Heat demand of the network (MWh/a).")
@click.option("--fuel", type=click.Choice(["heating_oil", "natural_gas"]), default=None,
              help="Fossil fuel replaced (default: the region's balance.replaced_fuel).")
@_user_errors
def woodchips(site: str, demand_mwh: float, fuel: str | None, **options) -> None:
    """Wood-chip value chain of a village heating network: area, transport, footprint by stage."""
    from landuse.potential import default_parameters
    from landuse.woodchips import heating_site, woodchip_chain

    kwargs = _pipeline_kwargs(**options)
    res = _run(kwargs, until="balance")
    _, potential, _ = res["balance"].data
    potential = potential[potential["tier"] == "technical"].drop(columns="tier")  # all coppice land near the site
    parcels_gdf = res["suitability"].data["parcels"].set_index("parcel_id")
    point = heating_site(site, parcels_gdf, res["layers"].data)
    fuel = fuel or kwargs["region"].balance.get("replaced_fuel", "heating_oil")
    chain = woodchip_chain(parcels_gdf, potential.reindex(parcels_gdf.index).fillna(0), point,
                           heat_demand_mwh_a=demand_mwh, params=default_parameters(options["parameters"]), fuel=fuel)
    click.echo(f"Heating network at {site} ({point.x:.0f}, {point.y:.0f} EPSG:25833): {demand_mwh:,.0f} MWh heat/a")
    click.echo(f"  fuel {chain['fuel_mwh_a']:,.0f} MWh/a = {chain['t_dm_a']:,.0f} t DM/a from "
               f"{chain['area_needed_ha']:,.1f} ha coppice; {len(chain['supplying_parcels'])} nearest parcels "
               "of the technical tier (all coppice land) "
               f"supply {chain['supplied_share']:.0%}, mean road distance {chain['mean_transport_km']:.1f} km")
    click.echo(chain["footprint"].round(2).to_string())
    click.echo(f"  replaces {fuel}: {chain['fossil_g_per_kwh_heat']:.0f} g CO2e/kWh heat → saves "
               f"{chain['saving_t_co2e_a']:,.0f} t CO2e/a")


def _written(res) -> None:
    for p in res["outputs"].files:
        size = sum(f.stat().st_size for f in p.rglob("*")) if p.is_dir() else p.stat().st_size
        click.echo(f"Written: {p} ({size / 1e6:.1f} MB)")


@main.command(name="map")
@pipeline_options
@embed_option
@force_option
@_user_errors
def map_(embed: bool, force: bool, **options) -> None:
    """Interactive maps: map.html and map_<technology>.html."""
    _written(_run(_pipeline_kwargs(**options), outputs=("maps",), embed=embed, force=force))


@main.command()
@pipeline_options
@force_option
@_user_errors
def export(force: bool, **options) -> None:
    """Exports for GIS: landuse.gpkg with QGIS styles, shapefiles/, summary.csv, land_stats.csv, landuse.xlsx."""
    _written(_run(_pipeline_kwargs(**options), outputs=("exports",), force=force))


@main.command()
@pipeline_options
@force_option
@_user_errors
def factsheet(force: bool, **options) -> None:
    """A fact sheet per municipality for councils: factsheets/<municipality>.pdf (map, balance, top sites, data)."""
    _written(_run(_pipeline_kwargs(**options), outputs=("factsheets",), force=force))


workers_option = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Partition by municipality on a local Dask cluster of N worker processes (same results).",
)
scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Partition on a running Dask cluster (tcp://host:8786); workers must see the data and output folders.",
)
worker_memory_option = click.option(
    "--worker-memory", default=None, metavar="SIZE",
    help="Memory limit per local worker, e.g. 3GB (default: the machine's memory shared by the workers).",
)


@main.command()
@pipeline_options
@embed_option
@force_option
@workers_option
@scheduler_option
@worker_memory_option
@_user_errors
def run(embed: bool, force: bool, workers: int | None, scheduler: str | None, worker_memory: str | None,
        **options) -> None:
    """The whole job: layers, parcels, scores, balance, maps, exports and fact sheets (finished stages are reused)."""

    t0 = time.perf_counter()
    kwargs = _pipeline_kwargs(**options)
    res = _run(kwargs, embed=embed, force=force, workers=workers, scheduler=scheduler, worker_memory=worker_memory)
    from landuse.carbon import frame_table

    click.echo(_stages_line(res))
    summary = res["balance"].summary
    share = summary["share_realised"].max()
    click.echo(f"Balance at {share:.0%} of the potential realised; share of the territorial load "
               "(t CO2e/a) or of the energy use (MWh/a), low–high:")
    click.echo(frame_table(summary, share=share).to_string())
    files = ", ".join(p.name + ("/" if p.is_dir() else "") for p in res["outputs"].files)
    click.echo(f"Outputs in {_target(kwargs)}/: {files} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
