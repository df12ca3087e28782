"""Suitability per technology, one engine for all: hard exclusions with buffers → the
eligible part of each parcel; weighted soft criteria → a 0–100 score; the reasons behind every
result. What is a technology's own (turbine placement, PV corridor bands, riparian strips)
runs in its module's ``prepare``/``finish`` hooks (:mod:`landuse.technologies`).

Buffers are true circles in metres (vector buffers in EPSG:25833) around features of the
layer store, including those in the margin outside the region.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse import technologies
from landuse.aviation import approach_surfaces
from landuse.criteria import Criterion, Exclusion, Limit, RuleSet
from landuse.errors import ConfigError
from landuse.geometry import QUAD_SEGS, area_frame, clean, dissolve_in_tiles, map_chunks, map_threads, query_pairs
from landuse.layers import LayerSet
from landuse.parcels import building_groups
from landuse.technologies import Assessment, Technology

log = logging.getLogger(__name__)


def _approach_surfaces(layers: LayerSet, values: dict[str, float]) -> gpd.GeoDataFrame:
    aero = layers["aerodromes"]
    return approach_surfaces(aero[aero["class"].eq("runway")], inner_edge_m=values["approach_inner_edge_m"],
                             offset_m=values["approach_offset_m"], divergence=values["approach_divergence"],
                             length_m=values["approach_length_m"], min_runway_m=values["runway_min_length_m"])


#: Land-cover classes whose buildings are the site's own (factories, barracks): a candidate there
#: keeps its rotor off them.
SITE_CLASSES = ("industrial", "conversion")


def _site_buildings(layers: LayerSet, values: dict[str, float]) -> gpd.GeoDataFrame:
    """Buildings on industrial and conversion land (the candidates beyond farmland)."""
    b, lc = layers["buildings"], layers["landcover"]
    sites = lc[lc["class"].isin(SITE_CLASSES)]
    if b.empty or sites.empty:
        return b.iloc[:0]
    hit = np.unique(query_pairs(sites.sindex, b.geometry.values, predicate="intersects")[0])
    return b.iloc[hit]


#: Derived layers (see :data:`landuse.criteria.DERIVED_LAYERS`): built from the canonical layers
#: and the rule set's values.
DERIVED = {"building_groups": lambda layers, values: building_groups(layers),
           "approach_surfaces": _approach_surfaces,
           "site_buildings": _site_buildings}


def rule_features(layers: LayerSet, rule: Exclusion, values: dict[str, float] | None = None, *,
                  derived: dict[str, gpd.GeoDataFrame] | None = None) -> gpd.GeoDataFrame:
    """Features a rule applies to (the derived layers ``building_groups`` and
    ``approach_surfaces`` included).

    Parameters
    ----------
    layers : LayerSet
    rule : Exclusion
        Its ``layer`` and ``where`` filter select the features.
    values : dict, optional
        The rule set's values; derived layers read theirs (e.g. the approach trapezoid).
    derived : dict, optional
        Derived layers already built with the same values (filled here): several rules read
        ``building_groups``.

    Returns
    -------
    GeoDataFrame
        The matching features, EPSG:25833.
    """
    if derived is not None and rule.layer in derived:
        gdf = derived[rule.layer]
    elif rule.layer in DERIVED:
        try:
            gdf = DERIVED[rule.layer](layers, values or {})
            if derived is not None:
                derived[rule.layer] = gdf
        except KeyError as exc:
            raise ConfigError(f"rule {rule.name}: layer {rule.layer} needs the value {exc.args[0]!r} in the rule "
                              "set (see wind.yaml, aviation:).") from None
    else:
        gdf = layers[rule.layer]
    if rule.where and len(gdf):
        gdf = gdf.query(rule.where)
    return gdf


def exclusion_zones(layers: LayerSet, rule: Exclusion, values: dict[str, float] | None = None, *,
                    derived: dict[str, gpd.GeoDataFrame] | None = None) -> np.ndarray:
    """Buffered features of one rule.

    Parameters
    ----------
    layers : LayerSet
    rule : Exclusion
        Features as :func:`rule_features`; ``buffer_m`` (m) around them.
    values : dict, optional
        The rule set's values, for derived layers.
    derived : dict, optional
        Derived layers already built (see :func:`rule_features`).

    Returns
    -------
    ndarray of geometries
        Polygons in EPSG:25833; without a buffer, only the polygon features.
    """
    return _buffered(rule, rule_features(layers, rule, values, derived=derived))


def _buffered(rule: Exclusion, features: gpd.GeoDataFrame) -> np.ndarray:
    geoms = np.asarray(features.geometry.values)
    if len(geoms) == 0:
        return geoms
    if rule.buffer_m > 0:
        return shapely.buffer(geoms, rule.buffer_m, quad_segs=QUAD_SEGS)
    return geoms[shapely.get_dimensions(geoms) == 2]


def _rule_cover(geoms: np.ndarray, area: np.ndarray, candidates: np.ndarray, tree: shapely.STRtree | None,
                zones: np.ndarray) -> tuple[np.ndarray, ...]:
    """What one rule covers of the candidate parcels, independent of every other rule (so the
    rules can run in parallel).

    The zones are dissolved in tiles (:func:`dissolve_in_tiles`); the pieces do not overlap, so
    the covered area of a parcel is the sum of its intersections with them.

    Returns
    -------
    (ndarray, ndarray, ndarray, ndarray, ndarray)
        The share (0–1) of every parcel the rule covers; the pieces; the parcels wholly inside a
        piece; and per (parcel, piece) pair of the other parcels the parcel's position and the
        piece that cuts it.
    """
    none = np.zeros(0, dtype=int)
    pieces = dissolve_in_tiles(zones, near=tree)
    if tree is None or len(pieces) == 0:
        return np.zeros(len(geoms)), pieces, none, none, none
    zi, pi = tree.query(pieces, predicate="intersects")
    targets = candidates[pi]
    # a zone alone in its tile is taken whole, so without a buffer a piece can be the layer's own
    # feature, which other threads read meanwhile (the land rows, the other rules): prepare
    # copies, since a prepared GEOS geometry builds its indexes lazily and two threads using it at
    # once can free them under each other (a cold run crashed on it once in CI)
    pieces = shapely.force_2d(pieces)
    shapely.prepare(pieces)
    # parcels wholly inside a piece (most, near villages) need no overlay
    whole = shapely.contains_properly(pieces[zi], geoms[targets])
    covered = area[targets].copy()
    covered[~whole] = shapely.area(shapely.intersection(geoms[targets[~whole]], pieces[zi[~whole]]))
    share = np.bincount(targets, weights=covered, minlength=len(geoms)) / np.maximum(area, 1e-9)
    inside = np.zeros(len(geoms), dtype=bool)
    inside[targets[whole]] = True
    cut = ~inside[targets]
    return share, pieces, np.flatnonzero(inside), targets[cut], zi[cut]


def _subtract_disjoint(eligible: np.ndarray, inside: np.ndarray, pieces: np.ndarray, targets: np.ndarray,
                       piece_of_pair: np.ndarray) -> None:
    """Subtract one rule's disjoint pieces from the eligible geometries, in place: parcels the
    rule covers whole become empty; the others lose their pieces round by round (round k takes
    every parcel's k-th piece, vectorised), so no per-parcel union is needed."""
    eligible[inside] = shapely.Polygon()
    if len(targets) == 0:
        return
    order = np.argsort(targets, kind="stable")
    t, z = targets[order], piece_of_pair[order]
    rank = np.arange(len(t)) - np.searchsorted(t, t)
    for k in range(int(rank.max()) + 1):
        now = rank == k
        eligible[t[now]] = map_chunks(shapely.difference, eligible[t[now]], pieces[z[now]])


def limit_exceeded(parcels: pd.DataFrame, limit: Limit) -> np.ndarray:
    """Parcels beyond a hard limit on one of their attributes.

    Parameters
    ----------
    parcels : DataFrame
        With the limit's attribute; without it no parcel is beyond (and a warning says so).
    limit : Limit

    Returns
    -------
    ndarray of bool
        On ``parcels``' order; False where the attribute is missing.
    """
    if limit.attribute not in parcels:
        log.warning("limit %s reads %s, which the parcels lack (no raster or layer for it): not applied.",
                    limit.name, limit.attribute)
        return np.zeros(len(parcels), dtype=bool)
    v = pd.to_numeric(parcels[limit.attribute], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        above = v > limit.maximum if limit.maximum is not None else np.zeros(len(v), dtype=bool)
        below = v < limit.minimum if limit.minimum is not None else np.zeros(len(v), dtype=bool)
    return above | below


def criterion_score(values: pd.Series, criterion: Criterion) -> pd.Series:
    """Sub-score 0–100 of one criterion: piecewise-linear curve (flat beyond its ends) or class
    map.

    Parameters
    ----------
    values : Series
        The criterion's attribute per parcel.
    criterion : Criterion

    Returns
    -------
    Series of float
        On ``values``' index; NaN where the attribute is missing or a class is not in the map
        (the weight then goes to the other criteria).
    """
    if criterion.mapping is not None:
        return values.astype(str).map(criterion.mapping).astype(float)
    xs, ys = zip(*criterion.curve, strict=True)
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    out = np.interp(v, xs, ys)
    out[np.isnan(v)] = np.nan
    return pd.Series(out, index=values.index)


def weighted_score(sub: pd.DataFrame, criteria: list[Criterion]) -> pd.Series:
    """Weighted mean of sub-scores, ignoring missing ones.

    Parameters
    ----------
    sub : DataFrame
        One column of sub-scores (0–100) per criterion, in the order of ``criteria``.
    criteria : list of Criterion
        Give the weights.

    Returns
    -------
    Series of float
        Score 0–100 on ``sub``'s index; NaN when no sub-score is known.
    """
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

    Parameters
    ----------
    parcels : GeoDataFrame
        The parcel model (EPSG:25833) with ``class``.
    layers : LayerSet
    rules : RuleSet
        Eligible classes and exclusions of the technology.

    Returns
    -------
    (DataFrame, ndarray)
        Table on the parcels' index (``eligible_ha``, ``reason``, shares) and eligible geometries.
    """
    geoms = np.asarray(parcels.geometry.values)
    area = shapely.area(geoms)
    table = pd.DataFrame(index=parcels.index)
    reasons = [[] for _ in range(len(parcels))]
    classes = parcels["class"].astype(str).to_numpy()
    class_ok = np.isin(classes, list(rules.eligible_classes))
    for k in np.flatnonzero(~class_ok):
        reasons[k].append(f"land_cover_{classes[k]}")
    for limit in rules.limits:
        beyond = limit_exceeded(parcels, limit) & class_ok
        table[f"excl_{limit.name}_share"] = beyond.astype(float)
        for k in np.flatnonzero(beyond):
            reasons[k].append(limit.name)
        class_ok &= ~beyond
    eligible = np.where(class_ok, geoms, shapely.Polygon())
    candidates = np.flatnonzero(class_ok)
    tree = shapely.STRtree(geoms[candidates]) if len(candidates) else None
    derived: dict[str, gpd.GeoDataFrame] = {}
    # features are selected in turn (derived layers are built once and shared); buffers,
    # dissolves and overlays of the rules are independent and run on threads
    features = [rule_features(layers, rule, rules.values, derived=derived) for rule in rules.exclusions]
    covers = map_threads(lambda pair: _rule_cover(geoms, area, candidates, tree, _buffered(*pair)),
                         list(zip(rules.exclusions, features, strict=True)))
    for rule, (share, pieces, inside, targets, piece_of_pair) in zip(rules.exclusions, covers, strict=True):
        _subtract_disjoint(eligible, inside, pieces, targets, piece_of_pair)
        share = np.clip(np.round(share, 6), 0, 1)
        table[f"excl_{rule.name}_share"] = share
        for k in np.flatnonzero(share > 0):
            reasons[k].append(rule.name)
    eligible = clean(eligible)
    table["eligible_ha"] = shapely.area(eligible) / 1e4
    table["reason"] = [";".join(r) for r in reasons]
    return table, eligible


def criterion_scores(attributes: pd.DataFrame, criteria: list[Criterion], *,
                     shares: dict[str, pd.DataFrame] | None = None, technology: str = "") -> pd.DataFrame:
    """Sub-scores ``sub_<criterion>`` (0–100) of every criterion on the parcels' index.

    A class-map criterion on an attribute in ``shares`` scores the area-weighted mean over the
    classes of each parcel's eligible area (e.g. the share in each corridor band).

    Parameters
    ----------
    attributes : DataFrame
        Parcel attributes.
    criteria : list of Criterion
    shares : dict of str to DataFrame, optional
        Attribute → share (0–1) of each class (columns) per parcel.
    technology : str
        Named in the warning for a missing attribute.

    Returns
    -------
    DataFrame
        On ``attributes``' index; NaN for a criterion whose attribute is missing.
    """
    shares = shares or {}
    sub = pd.DataFrame(index=attributes.index)
    for c in criteria:
        if c.attribute in shares and c.mapping is not None:
            parts = shares[c.attribute]
            total = 0.0
            for cls in parts.columns:
                total = total + parts[cls].to_numpy(float) * c.mapping.get(cls, 0)
            sub[f"sub_{c.name}"] = total
        elif c.attribute in attributes.columns:
            sub[f"sub_{c.name}"] = criterion_score(attributes[c.attribute], c)
        else:
            log.warning("%s: criterion %s reads %s, which the parcels lack; skipped.", technology, c.name,
                        c.attribute)
            sub[f"sub_{c.name}"] = np.nan
    return sub


def score_technology(parcels: gpd.GeoDataFrame, layers: LayerSet, rules: RuleSet, *,
                     technology: Technology | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Suitability of one technology: the shared engine around the technology's own hooks.

    Parameters
    ----------
    parcels : GeoDataFrame
        The parcel model (EPSG:25833), indexed by parcel id.
    layers : LayerSet
        Canonical layers of the region and its margin.
    rules : RuleSet
        The technology's rule set.
    technology : Technology, optional
        Default: the registered technology named by ``rules.technology``.

    Returns
    -------
    dict
        ``table``: per parcel (on the parcels' index) ``eligible_ha``, ``score``, ``sub_<criterion>``,
        ``excl_<rule>_share``, ``reason`` and the technology's own columns; ``eligible``: eligible
        geometries with ha, score, AGS and municipality; and each of the technology's result layers
        by key (e.g. ``turbines``).
    """
    tech = technology or technologies.get(rules.technology)
    table, eligible = assess(parcels, layers, rules)
    a = tech.prepare(Assessment(parcels, layers, rules, table, eligible))
    attrs = parcels.drop(columns=parcels.geometry.name)
    attrs = attrs.assign(eligible_ha=a.table["eligible_ha"], **{c: a.attributes[c] for c in a.attributes})
    sub = criterion_scores(attrs, rules.scores, shares=a.shares, technology=tech.name)
    score = weighted_score(sub, rules.scores)
    table = a.table
    table["score"] = score.where(table["eligible_ha"] > 0).round(1)
    table = pd.concat([table, sub.round(1)], axis=1)
    table["reason"] = table["reason"].str.strip(";")
    a.table = table
    a = tech.finish(a)
    eligible_frame = area_frame(parcels.index, a.eligible, a.table["eligible_ha"])
    eligible_frame["score"] = a.table.loc[eligible_frame.index, "score"]
    for col in ("ags", "municipality"):
        eligible_frame[col] = parcels.loc[eligible_frame.index, col]
    return {**a.layers_out, "eligible": eligible_frame, "table": a.table}


def score_all(parcels: gpd.GeoDataFrame, layers: LayerSet, rule_sets: dict[str, RuleSet], *,
              progress=None) -> dict[str, dict]:
    """Score every technology of ``rule_sets``.

    Parameters
    ----------
    parcels : GeoDataFrame
        The parcel model (EPSG:25833), indexed by parcel id.
    layers : LayerSet
    rule_sets : dict of str to RuleSet
        Technology name → rule set.
    progress : callable, optional
        Called with each technology's name before it is scored.

    Returns
    -------
    dict
        Technology name → result of :func:`score_technology`.
    """
    out = {}
    for name, rules in rule_sets.items():
        if progress:
            progress(name)
        out[name] = score_technology(parcels, layers, rules)
    return out


def municipality_summary(parcels: gpd.GeoDataFrame, results: dict, *,
                         land_ha: pd.Series | None = None) -> pd.DataFrame:
    """Per municipality and the region: each technology's eligible area (ha), its share of the
    municipal area, and the columns it declares in ``summary_columns`` (turbines, Agri-PV ha, …).

    Parameters
    ----------
    parcels : GeoDataFrame
        The parcel model with ``municipality`` and ``area_ha``.
    results : dict
        As :func:`score_all` returns.
    land_ha : Series, optional
        Area (ha) per municipality, e.g. of the boundaries (default: the parcels' area).

    Returns
    -------
    DataFrame
        Index: municipality names and "Region"; columns ``<technology>_<column>`` (ha and counts
        rounded to 0.1) and ``<technology>_eligible_share_of_area`` (0–1; for wind the share
        that WindBG targets count, as rotor-in areas).
    """
    land = parcels.groupby("municipality")["area_ha"].sum() if land_ha is None else land_ha
    rows = pd.DataFrame(index=land.index)
    for name, res in results.items():
        t = res["table"].join(parcels[["municipality"]])
        for col in ("eligible_ha", *technologies.get(name).summary_columns):
            rows[f"{name}_{col}"] = t.groupby("municipality")[col].sum()
    rows.loc["Region"] = rows.sum()
    land = pd.concat([land, pd.Series({"Region": land.sum()})])
    shares = {f"{name}_eligible_share_of_area": (rows[f"{name}_eligible_ha"] / land).round(4) for name in results}
    return rows.round(1).assign(**shares)


def result_layers(parcels: gpd.GeoDataFrame, results: dict) -> dict[str, gpd.GeoDataFrame]:
    """The layers a scoring run gives: ``parcels`` with ``<technology>_<column>`` results
    (score, eligible_ha, sub-scores, exclusion shares, reason), and per technology its eligible
    areas (``<technology>_eligible``) and its own result layers (``<technology>_<key>``, e.g.
    placed turbines).

    Parameters
    ----------
    parcels : GeoDataFrame
        The parcel model, indexed by parcel id.
    results : dict
        As :func:`score_all` returns.

    Returns
    -------
    dict of str to GeoDataFrame
        Layer name → features; ids are columns (``parcel_id``), not indexes.
    """
    scored = parcels.copy()
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, res in results.items():
        scored = scored.join(res["table"].add_prefix(f"{name}_"))
        per_parcel = {"eligible": True, **{lyr.key: lyr.per_parcel for lyr in technologies.get(name).layers}}
        for key, gdf in res.items():
            if key == "table":
                continue
            layers[f"{name}_{key}"] = gdf.reset_index(names="parcel_id") if per_parcel.get(key, True) \
                else gdf.reset_index(drop=True)
    return {"parcels": scored.reset_index(), **layers}
