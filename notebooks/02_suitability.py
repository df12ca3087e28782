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
# # 2 · Suitability: exclusions, scores and turbines
#
# Rule sets live beside each technology, `landuse/technologies/<technology>.yaml`: each exclusion has a layer, a
# buffer (m), unit, range, source and status; each score a curve and a weight. `landuse score`
# runs the same code; `--criteria DIR` uses your copy of the files, `--scenario NAME` a variant
# from `scenarios.yaml`.
#
# Settings (region, data, layer store, output folder) come from environment variables, as in
# notebook 1; stages that notebook 1 built are reused.

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
# Layers and parcels (reused from notebook 1 when unchanged), then scores, eligible areas and
# turbines of every technology.

# %%
from landuse.pipeline import run

stages = run(**settings, until="suitability")
layers = stages["layers"]
parcels = stages["parcels"]
suitability = stages["suitability"]

# %% [markdown]
# Why parcels are excluded for wind (a parcel may carry several reasons):

# %%
scored = suitability.data["parcels"]
scored.loc[scored["candidate"].astype(bool), "wind_reason"].str.split(";").explode().value_counts().head(12)

# %% [markdown]
# The wind map: eligible area, scores and placed turbines (5 D × 3 D spacing, rotor inside).

# %%
from landuse.maps import build_map

build_map(suitability.data, layers.data["boundaries"], technologies=["wind"],
          attribution=layers.data.attribution)

# %% [markdown]
# ## A rule variant without code
# Here the settlement distance for wind drops from 1000 m to 750 m (the `wind_750m` scenario does
# the same from the command line: `landuse score --scenario wind_750m`).

# %%
import yaml

from landuse import technologies
from landuse.criteria import apply_overrides, parse_rule_set
from landuse.suitability import score_technology

wind_rules = technologies.get("wind").rules_file  # landuse/technologies/wind.yaml
raw = yaml.safe_load(wind_rules.read_text(encoding="utf-8"))
variant = parse_rule_set(apply_overrides(raw, {"exclusions": {"settlement": {"buffer": 750},
                                                              "building_group": {"buffer": 750}}}), wind_rules)
model = parcels.data
res = score_technology(model, layers.data, variant)
print(f"eligible for wind: {scored['wind_eligible_ha'].sum():,.0f} ha at 1000 m, "
      f"{res['table']['eligible_ha'].sum():,.0f} ha at 750 m; turbines {int(scored['wind_turbines'].sum())} → "
      f"{len(res['turbines'])}")
