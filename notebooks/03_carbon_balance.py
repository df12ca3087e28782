# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Potential and carbon balance
#
# Eligible areas become MWp, MWh, tonnes of dry matter, heat and t CO2e, held against the
# emission load of the region config's baseline (default region: Leipzig 3,401,109 t CO2e/a; the
# four communes of the Wurzener Land 292,483 t/a; 2016). Every number has a low/central/high from
# the parameter ranges in `landuse/parameters/potential.yaml`.
#
# Settings (region, data, layer store, output folder) come from environment variables, as in
# notebook 1; stages that notebooks 1 and 2 built are reused.

# %%
import logging
from pathlib import Path

import pandas as pd

from landuse.config import settings_from_env

# Settings come from the environment, so the notebook runs for any region without editing:
# LANDUSE_REGION (region name or YAML path), LANDUSE_DATA, LANDUSE_LAYERS, LANDUSE_OUT.
settings = settings_from_env(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd())
region, DATA, LAYERS, OUT = (settings[k] for k in ("region", "data", "layers_dir", "out"))
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
pd.set_option("display.width", 160)
print(f"region {region.name} ({region.title}); data {DATA or 'found by the library'}; layers {LAYERS}; out {OUT}")

# %% [markdown]
# ## The stages
# Layers, parcels and suitability (reused when unchanged), then potential per parcel and the
# balance at each share of the potential realised.

# %%
from landuse.pipeline import run

stages = run(**settings, until="balance")
layers = stages["layers"]
parcels = stages["parcels"]
suitability = stages["suitability"]
balance = stages["balance"]
summary, potentials, allocation = balance.data
potential = potentials[potentials["tier"] == "technical"].drop(columns="tier")  # each technology alone

# %%
from landuse.carbon import format_balance, frame_table

# the headline: rows tier × frame; the realistic tier (one use per hectare) first
frame_table(summary)

# %%
for share in (0.25, 1.0):
    print(f"--- realistic tier, {share:.0%} of the potential realised")
    print(format_balance(summary[(summary["share_realised"] == share) & (summary["tier"] == "realistic")]))

# %% [markdown]
# ## One hectare, one use
# The allocation gives every hectare at most one of the uses that exclude each other
# (`landuse/parameters/allocation.yaml`: compatibility table, PV cap, farmland floor, adoption
# share); its parts are the `allocation` layer of `landuse.gpkg`.

# %%
allocation.groupby(["municipality", "use"])[["ha", "avoided_t_co2e_a", "territorial_t_co2e_a"]].sum().round(0)

# %% [markdown]
# ## Wood chips for a village heating network
# The partnership's worked example (Bennewitz in the default region): 2,000 MWh of heat a year
# from the nearest coppice potential, with the footprint per kWh of heat by stage. `SITE` is the
# region's first municipality (the centre of its largest residential area); set it to another
# municipality's name, to `"x,y"` in EPSG:25833 or to `"lon,lat"`.

# %%
from landuse.woodchips import heating_site, woodchip_chain

SITE = layers.data["boundaries"]["name"].iloc[0]
scored = suitability.data["parcels"].set_index("parcel_id")
site = heating_site(SITE, scored, layers.data)
chain = woodchip_chain(scored, potential.reindex(scored.index).fillna(0), site, heat_demand_mwh_a=2000)
print(f"{SITE}: {chain['area_needed_ha']:.0f} ha coppice, {len(chain['supplying_parcels'])} parcels, "
      f"{chain['mean_transport_km']:.1f} km; saves {chain['saving_t_co2e_a']:,.0f} t CO2e/a against heating oil")
chain["footprint"].round(2)

# %% [markdown]
# ## Changing a parameter
# Copy `landuse/parameters/potential.yaml`, change a value (here the coppice yield from 7 to
# 9 t DM/ha/a) and pass it (`landuse balance --parameters my.yaml`):

# %%
import tempfile

from landuse.criteria import load_rule_sets
from landuse.parameters import PARAMETER_DIR
from landuse.potential import default_parameters, parcel_potential

text = (PARAMETER_DIR / "potential.yaml").read_text(encoding="utf-8")
mine = Path(tempfile.mkdtemp()) / "potential.yaml"
changed = text.replace("coppice_yield_t_dm_ha_a: {value: 7,", "coppice_yield_t_dm_ha_a: {value: 9,")
assert changed != text, "the coppice yield entry was not found in potential.yaml"
mine.write_text(changed, encoding="utf-8")
rule_sets = load_rule_sets()
richer = parcel_potential(scored, rule_sets=rule_sets, params=default_parameters(mine), options=region.balance)
print(f"wood: {potential['coppice_t_dm_a'].sum():,.0f} → {richer['coppice_t_dm_a'].sum():,.0f} t DM/a")

# %% [markdown]
# ## The map for planners
# `landuse run` writes it to `outputs/<region>/map.html` (`outputs/leipzig-wurzen/map.html` for the
# default region).

# %%
from landuse.maps import build_map

build_map(suitability.data, layers.data["boundaries"], potential=potential, summary=summary,
          attribution=layers.data.attribution)
