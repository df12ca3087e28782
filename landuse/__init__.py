"""landuse: geospatial land-use potential analyser.

Parcels scored for agroforestry / short-rotation coppice, open-space PV and wind, with the
carbon balance held against the urban emission load. Everything the CLI does is importable
from here, e.g. ``from landuse import load_region, run``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public API: name → module (imported on first use, so ``import landuse`` stays light).
_API = {
    "load_region": "config", "available_regions": "config", "resolve_data_dir": "config", "Region": "config",
    "build_layers": "layers", "layer_store": "layers", "read_layers": "layers", "LayerSet": "layers",
    "land_statistics": "stats",
    "build_parcels": "parcels", "derive_parcels": "parcels", "parcel_attributes": "parcels",
    "load_rule_set": "criteria", "load_rule_sets": "criteria",
    "score_technology": "suitability", "score_all": "suitability", "municipality_summary": "suitability",
    "technologies": "technologies", "register": "technologies", "Technology": "technologies",
    "parcel_potential": "potential",
    "balance": "carbon", "save_snapshot": "carbon", "compare_snapshots": "carbon",
    "woodchip_chain": "woodchips", "heating_site": "woodchips",
    "build_map": "maps", "write_maps": "maps",
    "export_all": "export",
    "run": "pipeline", "context": "pipeline", "run_layers": "pipeline", "run_parcels": "pipeline",
    "run_suitability": "pipeline", "run_balance": "pipeline", "run_outputs": "pipeline",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f"landuse.{_API[name]}"), name)
    raise AttributeError(f"module 'landuse' has no attribute {name!r}")
