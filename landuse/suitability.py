"""Suitability per technology: hard exclusions with buffers → the eligible part of each
parcel; weighted soft criteria → a 0–100 score; the reasons behind every result.

Buffers are true circles in metres (vector buffers in EPSG:25833) around features of the
layer store, including those in the margin outside the region.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.config import WORKING_CRS
from landuse.criteria import Criterion, Exclusion, RuleSet
from landuse.layers import LayerSet
from landuse.parcels import building_groups, subtract_union
from landuse.placement import place_turbines

log = logging.getLogger(__name__)


def rule_features(layers: LayerSet, rule: Exclusion) -> gpd.GeoDataFrame:
    """Features a rule applies to (the derived layer ``building_groups`` included)."""
    gdf = building_groups(layers) if rule.layer == "building_groups" else layers[rule.layer]
    if rule.where and len(gdf):
        gdf = gdf.query(rule.where)
    return gdf


def exclusion_zones(layers: LayerSet, rule: Exclusion) -> np.ndarray:
    """Buffered features of one rule (array of polygons, EPSG:25833)."""
    gdf = rule_features(layers, rule)
    geoms = gdf.geometry.values
    if len(geoms) == 0:
        return geoms
    if rule.buffer_m > 0:
        # 16 segments per quarter circle: the polygon's edges stay within 0.12 % of the radius
        # inside the true circle (1 - cos(pi/64): 1.2 m at 1000 m), at the vertices it is exact
        return shapely.buffer(geoms, rule.buffer_m, quad_segs=16)
    return geoms[shapely.get_dimensions(geoms) == 2]


def _cut(geoms: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Each geometry minus the union of the zones it touches.

    Zones are clipped to each geometry's envelope before they are dissolved: the result is the
    same, and dissolving thousands of 1 km circles shrinks to dissolving their small pieces
    (wind, default region: 2 s instead of 40 s per rule).
    """
    if len(zones) == 0 or len(geoms) == 0:
        return geoms
    i, j = shapely.STRtree(zones).query(geoms, predicate="intersects")
    if len(i) == 0:
        return geoms
    pieces = shapely.intersection(zones[j], shapely.envelope(geoms)[i])
    return subtract_union(geoms, pieces, np.vstack([i, np.arange(len(i))]))


def criterion_score(values: pd.Series, criterion: Criterion) -> pd.Series:
    """Sub-score 0–100 of one criterion: piecewise-linear curve (flat beyond its ends) or class
    map; NaN where the attribute is missing (the weight then goes to the other criteria)."""
    if criterion.mapping is not None:
        return values.astype(str).map(criterion.mapping).astype(float)
    xs, ys = zip(*criterion.curve, strict=True)
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    out = np.interp(v, xs, ys)
    out[np.isnan(v)] = np.nan
    return pd.Series(out, index=values.index)


def weighted_score(sub: pd.DataFrame, criteria: list[Criterion]) -> pd.Series:
    """Weighted mean of sub-scores, ignoring missing ones; NaN when none is known."""
    w = np.array([c.weight for c in criteria])
    vals = sub.to_numpy(float)
    known = ~np.isnan(vals)
    weights = known * w
    total = weights.sum(axis=1)
    weighted = np.nansum(np.nan_to_num(vals) * weights, axis=1)
    score = np.where(total > 0, weighted / np.where(total > 0, total, 1), np.nan)
    return pd.Series(score, index=sub.index)


def assess(parcels: gpd.GeoDataFrame, layers: LayerSet, rules: RuleSet) -> tuple[pd.DataFrame, np.ndarray]:
    """Exclusions of one technology: per rule, the share of each parcel it excludes on its own
    (``excl_<rule>_share``); the eligible geometry after all rules; the reason per parcel.

    Returns
    -------
    (DataFrame, ndarray)
        Table on the parcels' index (``eligible_ha``, ``reason``, shares) and eligible geometries.
    """
    geoms = parcels.geometry.values
    area = shapely.area(geoms)
    table = pd.DataFrame(index=parcels.index)
    reasons = [[] for _ in range(len(parcels))]
    class_ok = parcels["class"].isin(rules.eligible_classes).to_numpy()
    for k in np.flatnonzero(~class_ok):
        reasons[k].append(f"land_cover_{parcels['class'].iloc[k]}")
    eligible = np.where(class_ok, geoms, shapely.Polygon())
    for rule in rules.exclusions:
        zones = exclusion_zones(layers, rule)
        alone = _cut(geoms[class_ok], zones)
        share = np.zeros(len(parcels))
        share[class_ok] = 1 - shapely.area(alone) / np.maximum(area[class_ok], 1e-9)
        share = np.clip(np.round(share, 6), 0, 1)
        table[f"excl_{rule.name}_share"] = share
        for k in np.flatnonzero(share > 0):
            reasons[k].append(rule.name)
        eligible[class_ok] = _cut(eligible[class_ok], zones)
    eligible = _clean(eligible)
    table["eligible_ha"] = shapely.area(eligible) / 1e4
    table["reason"] = [";".join(r) for r in reasons]
    return table, eligible


def _clean(geoms: np.ndarray, min_m2: float = 1.0) -> np.ndarray:
    """Drop slivers (< 1 m²) and non-polygon leftovers of the cuts."""
    parts = shapely.get_parts(geoms, return_index=True)
    polys, idx = parts
    keep = (shapely.get_type_id(polys) == 3) & (shapely.area(polys) >= min_m2)
    out = np.empty(len(geoms), dtype=object)
    if keep.any():
        shapely.multipolygons(polys[keep], indices=idx[keep], out=out)
    out[pd.isna(out)] = shapely.Polygon()
    return out


def _band_shares(eligible: np.ndarray, lines: np.ndarray, widths: tuple[float, float]) -> np.ndarray:
    """Share of each eligible area within widths[0], within widths[1], and beyond, of lines."""
    area = shapely.area(eligible)
    out = np.zeros((len(eligible), 3))
    inner_prev = np.zeros(len(eligible))
    for b, w in enumerate(widths):
        zones = shapely.buffer(lines, w, quad_segs=16) if len(lines) else lines
        outside = _cut(eligible, zones)
        inside = area - shapely.area(outside)
        out[:, b] = inside - inner_prev
        inner_prev = inside
    out[:, 2] = area - inner_prev
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area[:, None] > 0, out / np.maximum(area[:, None], 1e-9), np.nan)


def score_technology(parcels: gpd.GeoDataFrame, layers: LayerSet, rules: RuleSet) -> dict[str, gpd.GeoDataFrame]:
    """Suitability of one technology.

    Returns
    -------
    dict
        ``table``: per parcel (on the parcels' index) ``eligible_ha``, ``score``, ``sub_<criterion>``,
        ``excl_<rule>_share``, ``reason``; ``eligible``: eligible geometries with ha and score;
        for wind ``turbines``; for PV the Agri-PV areas; for agroforestry the riparian strips.
    """
    tech = rules.technology
    table, eligible = assess(parcels, layers, rules)
    attrs = parcels.drop(columns=parcels.geometry.name).copy()
    attrs["eligible_ha"] = table["eligible_ha"]
    out: dict[str, gpd.GeoDataFrame] = {}

    if tech == "pv":
        # soil too good for conventional PV: Agri-PV only
        nfk = pd.to_numeric(parcels["nfk_mean"], errors="coerce") if "nfk_mean" in parcels else pd.Series(
            np.nan, index=parcels.index)
        good_soil = (nfk > rules.values.get("agri_pv_nfk_mm", np.inf)).to_numpy()
        table["agri_pv_ha"] = np.where(good_soil, table["eligible_ha"], 0.0)
        agri = np.where(good_soil, eligible, shapely.Polygon())
        eligible = np.where(good_soil, shapely.Polygon(), eligible)
        table.loc[good_soil & (table["eligible_ha"] > 0).to_numpy(), "reason"] += ";soil_agri_pv_only"
        # minimum contiguous area
        eligible, small_share = _min_patch(eligible, rules.values.get("min_patch_ha", 0) * 1e4)
        table["excl_min_patch_share"] = small_share
        table.loc[small_share > 0, "reason"] += ";min_patch"
        table["eligible_ha"] = shapely.area(eligible) / 1e4
        corridor_lines = np.concatenate([
            layers["roads"].query("`class` == 'motorway'").geometry.values,
            layers["railways"].query("main").geometry.values])
        bands = _band_shares(eligible, corridor_lines, (200.0, 500.0))
        table["privileged_ha"] = np.nan_to_num(bands[:, 0]) * table["eligible_ha"]
        table["eeg_corridor_ha"] = np.nan_to_num(bands[:, 1]) * table["eligible_ha"]
        attrs["corridor_band"] = "outside"
        attrs["eligible_ha"] = table["eligible_ha"]
        out["agri_pv"] = _eligible_frame(parcels.index, agri, table["agri_pv_ha"])
    sub = pd.DataFrame(index=parcels.index)
    for c in rules.scores:
        if tech == "pv" and c.attribute == "corridor_band":
            m = c.mapping
            sub[f"sub_{c.name}"] = (bands[:, 0] * m.get("privileged", 0) + bands[:, 1] * m.get("eeg", 0)
                                    + bands[:, 2] * m.get("outside", 0))
        elif c.attribute in attrs.columns:
            sub[f"sub_{c.name}"] = criterion_score(attrs[c.attribute], c)
        else:
            log.warning("%s: criterion %s reads %s, which the parcels lack; skipped.", tech, c.name, c.attribute)
            sub[f"sub_{c.name}"] = np.nan
    score = weighted_score(sub, rules.scores)
    has_area = table["eligible_ha"] > 0
    table["score"] = score.where(has_area).round(1)
    table = pd.concat([table, sub.round(1)], axis=1)
    table["reason"] = table["reason"].str.strip(";")

    if tech == "agroforestry":
        strip = rules.values.get("riparian_strip_m", 10.0)
        ww = layers["waterways"].query("not tunnel").geometry.values
        zones = shapely.buffer(ww, strip, quad_segs=4) if len(ww) else ww
        outside = _cut(eligible, zones)
        riparian = _clean(shapely.difference(eligible, outside))
        table["riparian_ha"] = shapely.area(riparian) / 1e4
        table["no_soil_credit"] = parcels["class"].eq("grassland").to_numpy()
        table["layout"] = np.where(table["eligible_ha"] >= rules.values.get("alley_min_field_ha", 5.0),
                                   "alley_cropping", np.where(table["eligible_ha"] > 0, "coppice", ""))
        out["riparian"] = _eligible_frame(parcels.index, riparian, table["riparian_ha"])
    if tech == "wind":
        frame = _eligible_frame(parcels.index, eligible, table["eligible_ha"])
        v = rules.values
        turbines = place_turbines(frame, v["rotor_diameter_m"], v["rated_power_mw"], v.get("spacing_along_d", 5),
                                  v.get("spacing_across_d", 3), v.get("main_wind_direction_deg", 225))
        table["turbines"] = turbines.groupby("parcel_id").size().reindex(parcels.index).fillna(0).astype(int)
        out["turbines"] = turbines
    eligible_frame = _eligible_frame(parcels.index, eligible, table["eligible_ha"])
    eligible_frame["score"] = table.loc[eligible_frame.index, "score"]
    for col in ("ags", "municipality"):
        eligible_frame[col] = parcels.loc[eligible_frame.index, col]
    out["eligible"] = eligible_frame
    out["table"] = table
    return out


def _eligible_frame(index: pd.Index, geoms: np.ndarray, ha: pd.Series) -> gpd.GeoDataFrame:
    keep = ~shapely.is_empty(geoms)
    return gpd.GeoDataFrame({"eligible_ha": ha.to_numpy()[keep]}, geometry=geoms[keep], crs=WORKING_CRS,
                            index=index[keep])


def _min_patch(eligible: np.ndarray, min_m2: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove eligible patches (contiguous across parcels) smaller than ``min_m2``."""
    area = shapely.area(eligible)
    if min_m2 <= 0 or not (area > 0).any():
        return eligible, np.zeros(len(eligible))
    patches = shapely.get_parts(shapely.union_all(eligible[area > 0]))
    small = patches[shapely.area(patches) < min_m2]
    cut = _clean(_cut(eligible, small))
    share = np.where(area > 0, 1 - shapely.area(cut) / np.maximum(area, 1e-9), 0.0)
    return cut, np.clip(np.round(share, 6), 0, 1)


def score_all(parcels: gpd.GeoDataFrame, layers: LayerSet, rule_sets: dict[str, RuleSet]) -> dict:
    """Score every technology; returns ``{technology: score_technology(...)}``."""
    return {tech: score_technology(parcels, layers, rs) for tech, rs in rule_sets.items()}


def municipality_summary(parcels: gpd.GeoDataFrame, results: dict) -> pd.DataFrame:
    """Eligible area (ha), its share of the land, and turbines per municipality, group and region."""
    land = parcels.groupby("municipality")["area_ha"].sum()
    rows = pd.DataFrame(index=land.index)
    for tech, res in results.items():
        t = res["table"].join(parcels[["municipality"]])
        rows[f"{tech}_eligible_ha"] = t.groupby("municipality")["eligible_ha"].sum()
        if tech == "wind":
            rows["wind_turbines"] = t.groupby("municipality")["turbines"].sum()
        if tech == "pv":
            rows["pv_agri_pv_ha"] = t.groupby("municipality")["agri_pv_ha"].sum()
            rows["pv_privileged_ha"] = t.groupby("municipality")["privileged_ha"].sum()
        if tech == "agroforestry":
            rows["agroforestry_riparian_ha"] = t.groupby("municipality")["riparian_ha"].sum()
    rows.loc["Region"] = rows.sum()
    return rows.round(1)


def result_layers(parcels: gpd.GeoDataFrame, results: dict) -> dict[str, gpd.GeoDataFrame]:
    """The layers a scoring run writes: ``parcels`` with ``<technology>_<column>`` results
    (score, eligible_ha, sub-scores, exclusion shares, reason), and per technology its
    eligible areas (``wind_eligible``, ``pv_eligible``, ``agroforestry_eligible``), the placed
    turbines (``wind_turbines``), Agri-PV areas (``pv_agri_pv``) and riparian tree strips
    (``agroforestry_riparian``). Ids are columns (``parcel_id``), not indexes."""
    scored = parcels.copy()
    layers: dict[str, gpd.GeoDataFrame] = {}
    for tech, res in results.items():
        table = res["table"].add_prefix(f"{tech}_")
        scored = scored.join(table)
        for key, gdf in res.items():
            if key == "table":
                continue
            name = f"{tech}_{key}"
            layers[name] = gdf.reset_index(names="parcel_id") if key != "turbines" else gdf.reset_index(drop=True)
    return {"parcels": scored.reset_index(), **layers}
