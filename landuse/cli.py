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

from landuse import __version__
from landuse.config import DEFAULT_REGION, load_region
from landuse.errors import LanduseError

log = logging.getLogger("landuse")


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("pyogrio").setLevel(max(level, logging.WARNING))


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


#: Where the data and the layer store are; and, for commands that write results, the output folder.
store_options = _options(region_option, data_option, layers_dir_option)
output_options = _options(region_option, data_option, layers_dir_option, out_option)


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


def _out_dir(out: Path | None, region_name: str) -> Path:
    return out if out is not None else Path("outputs") / region_name


@main.command()
@store_options
@force_option
@_user_errors
def layers(region: str, data: Path | None, layers_dir: Path, force: bool) -> None:
    """Build the canonical layer store layers/<region>.gpkg (reused while inputs are unchanged)."""
    from landuse.layers import layer_store

    t0 = time.perf_counter()
    cfg = load_region(region)
    layerset, reused = layer_store(cfg, data=data, layers_dir=layers_dir, force=force)
    state = "reused (inputs unchanged)" if reused else "built"
    click.echo(f"Layer store {layers_dir / (cfg.name + '.gpkg')} {state} in {time.perf_counter() - t0:.1f} s")
    for name, gdf in layerset.layers.items():
        click.echo(f"  {name:16} {len(gdf):>8,} features")
    for key, path in layerset.rasters.items():
        click.echo(f"  raster {key:9} {path}")


@main.command()
@output_options
@_user_errors
def stats(region: str, data: Path | None, layers_dir: Path, out: Path | None) -> None:
    """Land statistics per municipality and group (ha) beside the 2016 baseline."""
    from landuse.layers import layer_store
    from landuse.stats import format_statistics, land_statistics, write_table

    cfg = load_region(region)
    layerset, _ = layer_store(cfg, data=data, layers_dir=layers_dir)
    table = land_statistics(layerset, cfg)
    path = write_table(table, _out_dir(out, cfg.name) / "land_stats.csv")
    click.echo(format_statistics(table))
    click.echo(f"Written: {path}")


@main.command()
@output_options
@_user_errors
def parcels(region: str, data: Path | None, layers_dir: Path, out: Path | None) -> None:
    """Build the parcel model: layer 'parcels' of outputs/<region>/landuse.gpkg."""
    from landuse.config import resolve_data_dir
    from landuse.layers import layer_store
    from landuse.parcels import build_parcels, parcel_summary, write_parcels

    t0 = time.perf_counter()
    cfg = load_region(region)
    layerset, _ = layer_store(cfg, data=data, layers_dir=layers_dir)
    model = build_parcels(layerset, cfg.sources.get("parcels"), resolve_data_dir(cfg, data))
    path = write_parcels(model, _out_dir(out, cfg.name) / "landuse.gpkg")
    click.echo(parcel_summary(model).to_string())
    click.echo(f"{len(model):,} parcels ({int(model['candidate'].sum()):,} candidates, ha per class above) "
               f"in {time.perf_counter() - t0:.1f} s → {path} (layer 'parcels')")


criteria_option = click.option(
    "--criteria", type=click.Path(path_type=Path), default=None,
    help="Folder of rule files (wind.yaml, pv.yaml, agroforestry.yaml) or one rule file; default: Saxony's.",
)
scenario_option = click.option(
    "--scenario", "-s", default="default", show_default=True,
    help="Named rule variant from scenarios.yaml (e.g. wind_750m, wind_no_forest).",
)


@main.command()
@output_options
@criteria_option
@scenario_option
@_user_errors
def score(region: str, data: Path | None, layers_dir: Path, out: Path | None, criteria: Path | None,
          scenario: str) -> None:
    """Score parcels for wind, open-space PV and agroforestry; place turbines."""
    from landuse.pipeline import run_score

    t0 = time.perf_counter()
    cfg = load_region(region)
    result = run_score(cfg, data=data, layers_dir=layers_dir, out=_out_dir(out, cfg.name),
                       criteria=criteria, scenario=scenario)
    click.echo(result.summary.to_string())
    click.echo(f"Scenario '{scenario}' scored in {time.perf_counter() - t0:.1f} s → {result.gpkg}")


parameters_option = click.option(
    "--parameters", "-p", type=click.Path(path_type=Path), default=None,
    help="Parameter file (copy of landuse/parameters/potential.yaml) for potential and balance.",
)


#: The options of every command that runs the pipeline up to the balance.
pipeline_options = _options(output_options, criteria_option, scenario_option, parameters_option)


@main.command()
@pipeline_options
@click.option("--variants", default="", help="Rule variants to compare side by side, comma-separated "
              "(names from scenarios.yaml, e.g. wind_750m,wind_no_forest): writes scenarios.csv.")
@click.option("--snapshot", is_flag=True, help="Save the balance as monitoring/balance_<date>.csv.")
@click.option("--compare", "compare_to", type=click.Path(exists=True, path_type=Path), default=None,
              help="An earlier snapshot CSV: print what changed (indicator table).")
@_user_errors
def balance(region: str, data: Path | None, layers_dir: Path, out: Path | None, criteria: Path | None,
            scenario: str, parameters: Path | None, variants: str, snapshot: bool, compare_to: Path | None) -> None:
    """Potential and carbon balance against the emission load (summary.csv)."""
    import pandas as pd

    from landuse.carbon import compare_snapshots, format_balance, save_snapshot
    from landuse.pipeline import run_balance, run_layers, run_parcels, run_suitability, scenario_dir

    cfg = load_region(region)
    out_dir = _out_dir(out, cfg.name)
    layers_res = run_layers(cfg, data, layers_dir)
    parcels_res = run_parcels(cfg, layers_res, out_dir, data)
    suit = run_suitability(layers_res, parcels_res, out_dir, criteria, scenario)
    res = run_balance(cfg, parcels_res, suit, out_dir, parameters, scenario)
    summary = res.summary
    for share, block in summary.groupby("share_realised", sort=True):
        click.echo(f"-- {share:.0%} of the potential realised")
        click.echo(format_balance(block))
    full = summary[summary["share_realised"] == summary["share_realised"].max()]
    if variants:
        from landuse.carbon import side_by_side
        from landuse.stats import write_table

        summaries = {scenario: summary}
        for name in [v.strip() for v in variants.split(",") if v.strip()]:
            v_suit = run_suitability(layers_res, parcels_res, out_dir, criteria, name)
            summaries[name] = run_balance(cfg, parcels_res, v_suit, out_dir, parameters, name).summary
        table = side_by_side(summaries)
        region_rows = table.xs("Region", level="area")
        click.echo("-- rule variants side by side (region)")
        click.echo(region_rows[["pv_mwp", "wind_turbines", "avoided_t_co2e_a", "coverage_share"]].to_string())
        click.echo(f"Written: {write_table(table, out_dir / 'scenarios.csv')}")
    if snapshot:
        click.echo(f"Snapshot: {save_snapshot(full, scenario_dir(out_dir, scenario) / 'monitoring')}")
    if compare_to is not None:
        old = pd.read_csv(compare_to, index_col=0)
        table = compare_snapshots(old, full)
        changed = table[table["change"].abs() > 1e-9]
        click.echo(changed.to_string(index=False) if len(changed) else "No change against the snapshot.")
    click.echo(f"Written: {scenario_dir(out_dir, scenario) / 'summary.csv'} (t CO2e/a; low/central/high)")


@main.command()
@output_options
@parameters_option
@click.option("--site", required=True, help="Heating network: municipality name, 'lon,lat' or 'x,y' (EPSG:25833).")
@click.option("--demand", "demand_mwh", type=float, required=True, help="Heat demand of the network (MWh/a).")
@click.option("--fuel", type=click.Choice(["heating_oil", "natural_gas"]), default=None,
              help="Fossil fuel replaced (default: the region's balance.replaced_fuel).")
@_user_errors
def woodchips(region: str, data: Path | None, layers_dir: Path, out: Path | None, parameters: Path | None,
              site: str, demand_mwh: float, fuel: str | None) -> None:
    """Wood-chip value chain of a village heating network: area, transport, footprint by stage."""
    from landuse.carbon import heating_site, woodchip_chain
    from landuse.pipeline import run_balance, run_layers, run_parcels, run_suitability
    from landuse.potential import default_parameters

    cfg = load_region(region)
    out_dir = _out_dir(out, cfg.name)
    layers_res = run_layers(cfg, data, layers_dir)
    parcels_res = run_parcels(cfg, layers_res, out_dir, data)
    suit = run_suitability(layers_res, parcels_res, out_dir)
    _, potential = run_balance(cfg, parcels_res, suit, out_dir, parameters).data
    parcels_gdf = suit.data["parcels"].set_index("parcel_id")
    point = heating_site(site, parcels_gdf, layers_res.data)
    fuel = fuel or cfg.balance.get("replaced_fuel", "heating_oil")
    res = woodchip_chain(parcels_gdf, potential.reindex(parcels_gdf.index).fillna(0), point, demand_mwh,
                         default_parameters(parameters), fuel=fuel)
    click.echo(f"Heating network at {site} ({point.x:.0f}, {point.y:.0f} EPSG:25833): {demand_mwh:,.0f} MWh heat/a")
    click.echo(f"  fuel {res['fuel_mwh_a']:,.0f} MWh/a = {res['t_dm_a']:,.0f} t DM/a from "
               f"{res['area_needed_ha']:,.1f} ha coppice; {len(res['supplying_parcels'])} nearest parcels "
               f"supply {res['supplied_share']:.0%}, "
               f"mean road distance {res['mean_transport_km']:.1f} km")
    click.echo(res["footprint"].round(2).to_string())
    click.echo(f"  replaces {fuel}: {res['fossil_g_per_kwh_heat']:.0f} g CO2e/kWh heat → saves "
               f"{res['saving_t_co2e_a']:,.0f} t CO2e/a")


def _stages_to_balance(cfg, data, layers_dir, out_dir, criteria, parameters, scenario):
    from landuse.pipeline import run_balance, run_layers, run_parcels, run_suitability

    layers_res = run_layers(cfg, data, layers_dir)
    parcels_res = run_parcels(cfg, layers_res, out_dir, data)
    suit = run_suitability(layers_res, parcels_res, out_dir, criteria, scenario)
    return layers_res, suit, run_balance(cfg, parcels_res, suit, out_dir, parameters, scenario)


embed_option = click.option("--embed/--no-embed", default=True, show_default=True,
                            help="Embed the map's JS/CSS so it opens offline (tiles aside).")


@main.command(name="map")
@pipeline_options
@embed_option
@_user_errors
def map_(region, data, layers_dir, out, criteria, scenario, parameters, embed) -> None:
    """Interactive maps: map.html and map_<technology>.html."""
    from landuse.maps import write_maps
    from landuse.pipeline import scenario_dir

    cfg = load_region(region)
    out_dir = _out_dir(out, cfg.name)
    layers_res, suit, bal = _stages_to_balance(cfg, data, layers_dir, out_dir, criteria, parameters, scenario)
    summary, potential = bal.data
    paths = write_maps(suit.data, layers_res.data["boundaries"], scenario_dir(out_dir, scenario), potential, summary,
                       layers_res.data.attribution, embed, f"{cfg.title} — land-use potential")
    for p in paths:
        click.echo(f"Written: {p} ({p.stat().st_size / 1e6:.1f} MB)")


@main.command()
@pipeline_options
@_user_errors
def export(region, data, layers_dir, out, criteria, scenario, parameters) -> None:
    """Exports for GIS: landuse.gpkg with QGIS styles, shapefiles/, summary.csv, landuse.xlsx."""
    from landuse.export import export_all
    from landuse.pipeline import scenario_dir

    cfg = load_region(region)
    out_dir = _out_dir(out, cfg.name)
    layers_res, suit, bal = _stages_to_balance(cfg, data, layers_dir, out_dir, criteria, parameters, scenario)
    metadata = {"region": cfg.name, "scenario": scenario, "attribution": "; ".join(layers_res.data.attribution)}
    paths = export_all(suit.data, scenario_dir(out_dir, scenario), bal.data[0], {"suitability": suit.summary},
                       metadata)
    for p in paths.values():
        click.echo(f"Written: {p}")


@main.command()
@pipeline_options
@embed_option
@force_option
@_user_errors
def run(region, data, layers_dir, out, criteria, scenario, parameters, embed, force) -> None:
    """The whole job: layers, parcels, scores, balance, maps and exports (finished stages are reused)."""
    from tqdm import tqdm

    from landuse.pipeline import run_all, scenario_dir

    t0 = time.perf_counter()
    cfg = load_region(region)
    out_dir = _out_dir(out, cfg.name)
    quiet = click.get_current_context().obj.get("verbosity", 0) < 0
    with tqdm(total=5, desc="landuse run", unit="stage", disable=quiet or None) as bar:
        def step(name):
            bar.set_postfix_str(name)
            if step.started:
                bar.update(1)
            step.started = True
        step.started = False
        res = run_all(cfg, data, layers_dir, out_dir, criteria, parameters, scenario, force, embed, step)
        bar.update(1)
    target = scenario_dir(out_dir, scenario)
    click.echo("Stages: " + ", ".join(f"{k} {'reused' if v.reused else 'built'}" for k, v in res.items()))
    summary = res["balance"].summary
    full = summary[summary["share_realised"] == summary["share_realised"].max()]
    for name, row in full[full["level"] != "municipality"].iterrows():
        click.echo(f"  {name:14} load {row['emission_load_t_co2e_a']:>12,.0f} t CO2e/a · covered "
                   f"{row['coverage_share']:.0%} ({row['coverage_share_low']:.0%}–{row['coverage_share_high']:.0%}) "
                   f"at {row['share_realised']:.0%} of the potential")
    click.echo(f"Outputs in {target}/: map.html, map_wind|pv|agroforestry.html, landuse.gpkg, shapefiles/, "
               f"summary.csv, landuse.xlsx ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
