"""Ad-hoc regions: any set of Saxon municipalities by their AGS, without a hand-written region file.

``landuse run --ags 14625020`` (one or several AGS, or a key prefix: ``14625`` a district,
``14`` all of Saxony) takes the municipalities from the boundaries file, their inhabitants from
its population figures, and the sources of the Saxon template
(``landuse/regions/templates/saxony.yaml``: the Saxony tiles, the Germany-wide rasters); paths
are relative to the data root (``../shared/data``). No emission load is known for such a region:
the balance reports absolute figures and says so.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path

import pandas as pd
import pyogrio

from landuse import schema
from landuse.config import PACKAGE_DIR, Region, region_from_mapping
from landuse.errors import ConfigError, DataError

log = logging.getLogger(__name__)

TEMPLATE = PACKAGE_DIR / "regions" / "templates" / "saxony.yaml"


def parse_codes(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """AGS codes and key prefixes from ``--ags`` (comma-separated, or given several times).

    Raises
    ------
    ConfigError
        A code that is not 2 to 8 digits.
    """
    items = [text] if isinstance(text, str) else list(text)
    codes = [c.strip() for item in items for c in str(item).split(",") if c.strip()]
    for c in codes:
        if not (c.isdigit() and 2 <= len(c) <= 8):
            raise ConfigError(f"--ags {c!r}: give an 8-digit municipality key (AGS, e.g. 14625020) or a key prefix "
                              "(14625 a district, 14 all of Saxony).")
    if not codes:
        raise ConfigError("--ags: give at least one AGS or key prefix, e.g. --ags 14625020.")
    return list(dict.fromkeys(codes))


def _population(value) -> int | None:
    """Inhabitants from the ``destatis`` record of a VG250 feature (a mapping or its JSON text)."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value.replace("'", '"'))
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("population"), int | float) and value["population"] > 0:
        return int(value["population"])
    return None


def region_from_ags(codes: str | list[str], *, data_root: str | Path, template: str | Path = TEMPLATE) -> Region:
    """An ad-hoc region of the municipalities whose AGS equals or starts with one of ``codes``.

    Parameters
    ----------
    codes : str or list of str
        AGS (8 digits) or key prefixes (``14625``: a district; ``14``: Saxony).
    data_root : path-like
        The data root the template's paths are relative to (``../shared/data``).
    template : path-like
        Region template with the sources.

    Returns
    -------
    Region
        Named ``ags-<codes>``; each municipality its own group, inhabitants from the boundaries
        file, no baseline (no emission load).

    Raises
    ------
    ConfigError
        A code that matches no municipality (with close matches).
    DataError
        The boundaries file is missing.
    """
    codes = parse_codes(codes)
    raw = schema.read_yaml(Path(template), what="Region template")
    spec = raw["sources"]["boundaries"]
    path = Path(data_root) / spec["path"]
    if not path.exists():
        raise DataError(f"Boundaries file {path} not found: --ags needs the data root with it (--data, e.g. "
                        "../shared/data).")
    table = pyogrio.read_dataframe(path, columns=[spec["ags_field"], spec["name_field"], "destatis"],
                                   read_geometry=False)
    ags = table[spec["ags_field"]].astype(str).str.strip()
    picked = []
    for code in codes:
        hit = table[ags.str.startswith(code)]
        if hit.empty:
            close = difflib.get_close_matches(code, sorted(set(ags.str[:len(code)])), n=3, cutoff=0.6)
            hint = f" Close: {', '.join(close)}." if close else ""
            raise ConfigError(f"--ags {code}: no municipality of {path.name} has this key or key prefix.{hint} "
                              "Saxon keys start with 14 (e.g. 14625020 Bautzen, 14729 Landkreis Leipzig).")
        picked.append(hit)
    rows = pd.concat(picked, ignore_index=True).drop_duplicates(subset=spec["ags_field"]).sort_values(
        spec["ags_field"])
    twice = set(rows[spec["name_field"]][rows[spec["name_field"]].duplicated()])
    municipalities = []
    for r in rows.itertuples(index=False):
        name, key = str(getattr(r, spec["name_field"])), str(getattr(r, spec["ags_field"])).strip()
        # results are keyed by name and each municipality is its own group: namesakes carry their key
        shown = f"{name} ({key})" if name in twice else name
        entry = {"name": shown, "ags": key, "group": shown}
        inhabitants = _population(getattr(r, "destatis", None))
        if inhabitants:
            entry["inhabitants"] = inhabitants
        municipalities.append(entry)
    label = "_".join(codes) if len(codes) <= 3 else f"{codes[0]}_and_{len(codes) - 1}_more"
    names = [m["name"] for m in municipalities]
    title = (f"{', '.join(names)} (AGS {', '.join(m['ags'] for m in municipalities)})" if len(names) <= 3
             else f"{len(names)} municipalities with key {', '.join(codes)}")
    raw = {**raw, "name": f"ags-{label}", "title": title, "municipalities": municipalities}
    log.info("Ad-hoc region %s: %d municipalities (%s)", raw["name"], len(names), ", ".join(names[:5]))
    return region_from_mapping(raw, Path(template))
