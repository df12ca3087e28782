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
# # 1 · Layers and parcels
#
# From the region's sources to canonical layers (EPSG:25833) and the parcel model. The same
# functions run behind `landuse layers`, `landuse stats` and `landuse parcels`.
#
# The first cell reads its settings from environment variables (see the comment there); by default
# it runs on the default region `leipzig-wurzen` with its data in `../shared/data/leipzig-wurzen`
# beside the checkout. Another region: copy `landuse/regions/leipzig-wurzen.yaml`, list its
# municipalities by AGS, and start Jupyter with `LANDUSE_REGION=path/to/my-region.yaml`.

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
# The layer store (`LANDUSE_LAYERS`) and the parcel model (`LANDUSE_OUT/landuse.gpkg`); a stage
# whose inputs are unchanged is reused.

# %%
from landuse.pipeline import run

stages = run(**settings, until="parcels")
layers = stages["layers"]
parcels = stages["parcels"]

# %% [markdown]
# Where the data came from (checksums, licences, attribution):

# %%
pd.DataFrame(layers.data.manifest["sources"])[["source", "path", "date", "licence", "attribution"]]

# %% [markdown]
# ## Land statistics against the baseline
# Transport area comes from road and railway lines × typical widths
# (`landuse/parameters/land_statistics.yaml`); the baseline figures are the region config's
# (2016 for the default region).

# %%
from landuse.stats import land_statistics

land_statistics(layers.data, region)

# %% [markdown]
# ## The parcel model
# Derived from land cover, split by roads, tracks, railways, waterways and borders.

# %%
parcels.summary

# %%
model = parcels.data
model[model["candidate"]][["municipality", "class", "area_ha", "dist_settlement_m", "dist_building_group_m",
                          "nfk_mean", "waterway_length_m"]].describe().round(1)

# %% [markdown]
# Candidate parcels of one municipality by land cover (full precision; click a parcel for its
# attributes). `DETAIL` is the municipality with the most candidate area; set it to any other
# name of the region (e.g. `"Bennewitz"`).

# %%
candidates = model[model["candidate"]]
DETAIL = candidates.groupby("municipality")["area_ha"].sum().idxmax()
print(f"candidate parcels of {DETAIL}")
detail = candidates[candidates["municipality"] == DETAIL]
detail[["class", "area_ha", "dist_settlement_m", "nfk_mean", "geometry"]].reset_index().explore(
    column="class", tiles="OpenStreetMap", style_kwds={"weight": 0.5})

# %% [markdown]
# ## Changing a setting
# Parcel settings (minimum area, width, building groups) live in `landuse/parameters/parcels.yaml`,
# each with unit, range and source. `derive_parcels(layers, {"min_area_ha": 0.5})` overrides one:

# %%
from landuse.parcels import derive_parcels

coarse = derive_parcels(layers.data, {"min_area_ha": 0.5})
print(f"{len(model):,} parcels at 0.1 ha minimum, {len(coarse):,} at 0.5 ha")
