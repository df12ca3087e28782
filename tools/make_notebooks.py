"""Write the notebooks in notebooks/ (without outputs). Run after changing their cells:
python tools/make_notebooks.py"""

from pathlib import Path

import nbformat as nbf

SETUP = """from pathlib import Path
import logging
import pandas as pd

# run from notebooks/ or from the checkout: layers/ and outputs/ live in the checkout
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
LAYERS, OUT = ROOT / "layers", ROOT / "outputs" / "leipzig-wurzen"
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
pd.set_option("display.width", 160)"""

NOTEBOOKS = {
    "01_layers_and_parcels.ipynb": [
        ("md", """# 1 · Layers and parcels

From the region's sources to canonical layers (EPSG:25833) and the parcel model. The same
functions run behind `landuse layers`, `landuse stats` and `landuse parcels`.

Data: `../shared/data/leipzig-wurzen` beside the checkout (else `$LANDUSE_DATA`). Another region:
copy `landuse/regions/leipzig-wurzen.yaml`, list its municipalities by AGS, and pass the file to
`load_region`."""),
        ("code", SETUP),
        ("code", """from landuse.config import load_region
from landuse.pipeline import run_layers, run_parcels

region = load_region("leipzig-wurzen")
layers = run_layers(region, layers_dir=LAYERS)
pd.DataFrame(layers.data.manifest["layers"]).T"""),
        ("md", "Where the data came from (checksums, licences, attribution):"),
        ("code", """pd.DataFrame(layers.data.manifest["sources"])[["source", "path", "date", "licence", "attribution"]]"""),
        ("md", """## Land statistics against the 2016 baseline
Transport area comes from road and railway lines × typical widths
(`landuse/parameters/land_statistics.yaml`)."""),
        ("code", """from landuse.stats import land_statistics

land_statistics(layers.data, region)"""),
        ("md", "## The parcel model\nDerived from land cover, split by roads, tracks, railways, waterways and borders."),
        ("code", """parcels = run_parcels(region, layers, OUT)
parcels.summary"""),
        ("code", """model = parcels.data
model[model["candidate"]][["municipality", "class", "area_ha", "dist_settlement_m", "dist_building_group_m",
                          "nfk_mean", "waterway_length_m"]].describe().round(1)"""),
        ("md", "Candidate parcels of Bennewitz by land cover (full precision; click a parcel for its attributes):"),
        ("code", """bennewitz = model[(model["municipality"] == "Bennewitz") & model["candidate"]]
bennewitz[["class", "area_ha", "dist_settlement_m", "nfk_mean", "geometry"]].reset_index().explore(
    column="class", tiles="OpenStreetMap", style_kwds={"weight": 0.5})"""),
        ("md", """## Changing a setting
Parcel settings (minimum area, width, building groups) live in `landuse/parameters/parcels.yaml`,
each with unit, range and source. `derive_parcels(layers, {"min_area_ha": 0.5})` overrides one:"""),
        ("code", """from landuse.parcels import derive_parcels

coarse = derive_parcels(layers.data, {"min_area_ha": 0.5})
print(f"{len(model):,} parcels at 0.1 ha minimum, {len(coarse):,} at 0.5 ha")"""),
    ],
    "02_suitability.ipynb": [
        ("md", """# 2 · Suitability: exclusions, scores and turbines

Rule sets live in `landuse/criteria/{wind,pv,agroforestry}.yaml`: each exclusion has a layer, a
buffer (m), unit, range, source and status; each score a curve and a weight. `landuse score`
runs the same code; `--criteria DIR` uses your copy of the files, `--scenario NAME` a variant
from `scenarios.yaml`."""),
        ("code", SETUP),
        ("code", """from landuse.config import load_region
from landuse.pipeline import run_layers, run_parcels, run_suitability

region = load_region("leipzig-wurzen")
layers = run_layers(region, layers_dir=LAYERS)
parcels = run_parcels(region, layers, OUT)
suitability = run_suitability(layers, parcels, OUT)
suitability.summary"""),
        ("md", "Why parcels are excluded for wind (a parcel may carry several reasons):"),
        ("code", """scored = suitability.data["parcels"]
scored.loc[scored["candidate"].astype(bool), "wind_reason"].str.split(";").explode().value_counts().head(12)"""),
        ("md", "The wind map: eligible area, scores and placed turbines (5 D × 3 D spacing, rotor inside)."),
        ("code", """from landuse.maps import build_map

build_map(suitability.data, layers.data["boundaries"], technologies=("wind",),
          attribution=layers.data.attribution)"""),
        ("md", """## A rule variant without code
Here the settlement distance for wind drops from 1000 m to 750 m (the `wind_750m` scenario does
the same from the command line: `landuse score --scenario wind_750m`)."""),
        ("code", """import yaml
from landuse.criteria import CRITERIA_DIR, apply_overrides, parse_rule_set
from landuse.suitability import score_technology

raw = yaml.safe_load((CRITERIA_DIR / "wind.yaml").read_text(encoding="utf-8"))
variant = parse_rule_set(apply_overrides(raw, {"exclusions": {"settlement": {"buffer": 750},
                                                              "building_group": {"buffer": 750}}}))
model = parcels.data
res = score_technology(model, layers.data, variant)
print(f"eligible for wind: {scored['wind_eligible_ha'].sum():,.0f} ha at 1000 m, "
      f"{res['table']['eligible_ha'].sum():,.0f} ha at 750 m; turbines {int(scored['wind_turbines'].sum())} → "
      f"{len(res['turbines'])}")"""),
    ],
    "03_carbon_balance.ipynb": [
        ("md", """# 3 · Potential and carbon balance

Eligible areas become MWp, MWh, tonnes of dry matter, heat and t CO2e, held against the
emission load (Leipzig 3,401,109 t CO2e/a; the four communes 292,483 t/a; 2016). Every number
has a low/central/high from the parameter ranges in `landuse/parameters/potential.yaml`."""),
        ("code", SETUP),
        ("code", """from landuse.config import load_region
from landuse.pipeline import run_balance, run_layers, run_parcels, run_suitability

region = load_region("leipzig-wurzen")
layers = run_layers(region, layers_dir=LAYERS)
parcels = run_parcels(region, layers, OUT)
suitability = run_suitability(layers, parcels, OUT)
balance = run_balance(region, parcels, suitability, OUT)
summary, potential = balance.data"""),
        ("code", """from landuse.carbon import format_balance

for share in (0.25, 1.0):
    print(f"--- {share:.0%} of the potential realised")
    print(format_balance(summary[summary["share_realised"] == share]))"""),
        ("code", """cols = ["pv_avoided_t_co2e_a", "wind_avoided_t_co2e_a", "src_avoided_t_co2e_a", "soil_sequestered_t_co2e_a",
        "emission_load_t_co2e_a", "coverage_share_low", "coverage_share", "coverage_share_high"]
summary[summary["share_realised"] == 0.25][cols].round(3)"""),
        ("md", """## Wood chips for a village heating network
The partnership's worked example: 2,000 MWh of heat a year for Bennewitz, from the nearest
coppice potential, with the footprint per kWh of heat by stage."""),
        ("code", """from landuse.carbon import heating_site, woodchip_chain

scored = suitability.data["parcels"].set_index("parcel_id")
site = heating_site("Bennewitz", scored, layers.data)
chain = woodchip_chain(scored, potential.reindex(scored.index).fillna(0), site, heat_demand_mwh_a=2000)
print(f"{chain['area_needed_ha']:.0f} ha coppice, {len(chain['supplying_parcels'])} parcels, "
      f"{chain['mean_transport_km']:.1f} km; saves {chain['saving_t_co2e_a']:,.0f} t CO2e/a against heating oil")
chain["footprint"].round(2)"""),
        ("md", """## Changing a parameter
Copy `landuse/parameters/potential.yaml`, change a value (here the coppice yield from 7 to
9 t DM/ha/a) and pass it (`landuse balance --parameters my.yaml`):"""),
        ("code", """import tempfile
from pathlib import Path
from landuse.parameters import PARAMETER_DIR, load_parameters
from landuse.potential import parcel_potential

text = (PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8")
mine = Path(tempfile.mkdtemp()) / "potential.yaml"
mine.write_text(text.replace("src_yield_t_dm_ha_a: {value: 7,", "src_yield_t_dm_ha_a: {value: 9,"), encoding="utf-8")
richer = parcel_potential(scored, load_parameters(mine))
print(f"wood: {potential['src_t_dm_a'].sum():,.0f} → {richer['src_t_dm_a'].sum():,.0f} t DM/a")"""),
        ("md", "## The map for planners (written to `outputs/leipzig-wurzen/map.html` by `landuse run`)"),
        ("code", """from landuse.maps import build_map

build_map(suitability.data, layers.data["boundaries"], potential, summary, layers.data.attribution)"""),
    ],
}


def main() -> None:
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in cells]
        nbf.write(nb, folder / name)
        print("wrote", folder / name)


if __name__ == "__main__":
    main()
