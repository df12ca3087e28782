"""One-line messages of the configuration schemas (landuse.schema) and the shipped files."""

from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

import landuse
from landuse import schema
from landuse.errors import ConfigError
from landuse.schema import (
    LandStatisticsConfig,
    ParameterEntry,
    ParameterFile,
    RegionConfig,
    RuleSetConfig,
    ScenariosFile,
    check_names,
    did_you_mean,
    load,
    read_yaml,
    validate,
)

PACKAGE_DIR = Path(landuse.__file__).resolve().parent

REGION = """\
name: test
margin_m: 3000
municipalities:
  - {name: Wurzen, ags: "14729410", group: Wurzener Land, inhabitants: 16715}
  - {name: Bennewitz, ags: "14729030", group: Wurzener Land}
balance:
  replaced_fuel: heating_oil
  shares: [0.1, 0.25, 0.5, 1.0]
baseline:
  year: 2016
  source: test figures
  status: SRC
  groups:
    Wurzener Land: {inhabitants: 31054, ghg_t_co2e_a: 292483}
sources:
  osm:
    type: openmaptiles
    path: osm/omt.gpkg
    buildings: osm/buildings.gpkg
  files:
    - {layer: protected_areas, path: lsg.shp, value: LSG, attribution: "© LfULG"}
"""

RULES = """\
technology: wind
rule_set: saxony
eligible_classes: [arable, grassland]
turbine:
  rotor_diameter_m: {value: 160, unit: m, low: 146, high: 175, status: SRC, source: reference turbine}
  total_height_m: {value: 247, unit: m, low: 216, high: 262, status: SRC, source: reference turbine}
min_patch_ha: {value: 3, unit: ha, low: 1, high: 5, status: SRC, source: secondary source}
exclusions:
  - {name: settlement, layer: landcover, where: "`class` == 'residential'", buffer: 1000, unit: m, low: 750, high: 1000, status: SRC, source: law}
  - {name: single_building, layer: building_groups, buffer: "2 * total_height_m", unit: m, status: EST, source: court}
scores:
  - {name: land_cover, attribute: class, map: {arable: 100, grassland: 90}, weight: 2, status: SRC, source: law}
  - {name: distance, attribute: dist_settlement_m, curve: [[1000, 50], [2000, 100]], weight: 1, status: EST, source: acceptance}
"""  # noqa: E501

PARAMETERS = """\
wind_full_load_hours_h_a: {value: 2400, low: 2000, high: 2800, unit: h/a, status: EST, source: reference turbine}
pv_specific_yield_kwh_per_kwp_a: {value: 1050, low: 950, high: 1150, unit: kWh/kWp/a, status: EST, source: Leipzig}
"""


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(model, tmp_path: Path, text: str, name: str = "config.yaml") -> str:
    """The message of loading ``text`` with ``model``: one line, naming the file."""
    path = _write(tmp_path, text, name)
    with pytest.raises(ConfigError) as info:
        load(model, path, what="Config file")
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message.removeprefix(f"{path}: ")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --------------------------------------------------------------------------------------------
# the examples above are valid


def test_examples_are_valid(tmp_path):
    region = load(RegionConfig, _write(tmp_path, REGION), what="Region file")
    assert region.margin_m == 3000 and region.groups == ["Wurzener Land"]
    assert region.municipalities[0].ags == "14729410" and region.municipalities[1].inhabitants is None
    assert region.sources.osm.type == "openmaptiles" and region.sources.files[0].value == "LSG"
    assert region.balance.replaced_fuel == "heating_oil"

    rules = load(RuleSetConfig, _write(tmp_path, RULES), what="Criteria file")
    assert list(rules.values()) == ["rotor_diameter_m", "total_height_m", "min_patch_ha"]
    assert rules.value_groups() == {"rotor_diameter_m": "turbine", "total_height_m": "turbine", "min_patch_ha": ""}
    assert rules.values()["min_patch_ha"].hi == 5
    assert rules.exclusions[0].buffer == 1000 and rules.exclusions[1].buffer == "2 * total_height_m"
    assert rules.scores[1].curve == [(1000, 50), (2000, 100)]

    params = load(ParameterFile, _write(tmp_path, PARAMETERS), what="Parameter file")
    assert params.root["wind_full_load_hours_h_a"].lo == 2000


def test_defaults_of_a_bare_region(tmp_path):
    text = "name: r\nmunicipalities: [{ags: 14729410}]\nsources: {}\n"
    region = load(RegionConfig, _write(tmp_path, text), what="Region file")
    assert region.municipalities[0].ags == "14729410"  # an 8-digit number is taken as the key
    assert region.margin_m == 0
    assert region.balance.shares == [0.1, 0.25, 0.5, 1.0]
    assert region.groups == ["r"]


def test_entry_range_defaults_to_the_value():
    entry = ParameterEntry(value=3, unit="ha", source="s", status="EST")
    assert (entry.lo, entry.value, entry.hi) == (3, 3, 3)


# --------------------------------------------------------------------------------------------
# reading YAML


def test_unparsable_yaml_gives_file_line_column(tmp_path):
    path = _write(tmp_path, "name: x\n  margin_m: 3\nsources: {}\n")
    with pytest.raises(ConfigError) as info:
        read_yaml(path, what="Region file")
    assert str(info.value) == f"{path}:2:11: mapping values are not allowed here"


def test_tab_indentation_gives_file_line_column(tmp_path):
    path = _write(tmp_path, "sources:\n\tosm: {}\n")
    with pytest.raises(ConfigError, match=r":2:1: found character '\\t' that cannot start any token$"):
        read_yaml(path, what="Region file")


def test_duplicate_key_is_an_error(tmp_path):
    path = _write(tmp_path, "name: x\nmargin_m: 3000\nsources: {}\nmargin_m: 500\n")
    with pytest.raises(ConfigError) as info:
        read_yaml(path, what="Region file")
    assert str(info.value) == f"{path}:4:1: duplicate key 'margin_m' (first given on line 2)"


def test_merge_keys_may_override(tmp_path):
    path = _write(tmp_path, "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")
    assert read_yaml(path, what="Parameter file")["c"] == {"x": 3, "y": 2}


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_yaml(tmp_path / "nope.yaml", what="Region file")
    assert str(info.value) == f"Region file {tmp_path / 'nope.yaml'} not found."
    with pytest.raises(ConfigError) as info:
        read_yaml(tmp_path, what="Criteria file")
    assert str(info.value) == f"Criteria file {tmp_path} is a directory, not a YAML file."


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\ntitle: Wurzener Land\nstate: Th\xfcringen\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        read_yaml(path, what="Region file")
    assert str(info.value) == f"{path}:3: Region file is not UTF-8 text; save it as UTF-8."


def test_empty_file(tmp_path):
    path = _write(tmp_path, "# nothing yet\n")
    assert read_yaml(path, what="Parameter file") is None
    # load() checks an empty file as {}: the required keys are reported
    assert _error(RegionConfig, tmp_path, "") == "'name' is missing (required) (and 2 more problems)"


def test_top_level_list(tmp_path):
    assert _error(ParameterFile, tmp_path, "- a\n- b\n") == "the top level must be a mapping (key: value), not a list"


# --------------------------------------------------------------------------------------------
# region files


def test_municipalities_null(tmp_path):
    text = REGION.split("municipalities:")[0] + "municipalities:\nsources: {}\n"
    assert _error(RegionConfig, tmp_path, text) == (
        "municipalities: null must be a list "
        "(give at least one municipality, e.g. - {name: Leipzig, ags: \"14713000\"})")


def test_municipalities_empty(tmp_path):
    text = REGION.split("municipalities:")[0] + "municipalities: []\nsources: {}\n"
    assert _error(RegionConfig, tmp_path, text).startswith("municipalities: [] must not be empty (give at least")


def test_margin_with_unit(tmp_path):
    text = _replace(REGION, "margin_m: 3000", 'margin_m: "3 km"')
    assert _error(RegionConfig, tmp_path, text) == "margin_m: '3 km' is not a number (give metres, e.g. 3000)"


def test_negative_margin(tmp_path):
    text = _replace(REGION, "margin_m: 3000", "margin_m: -10")
    assert _error(RegionConfig, tmp_path, text) == "margin_m: -10 must be >= 0 (give metres, e.g. 3000)"


def test_share_in_words(tmp_path):
    text = _replace(REGION, "shares: [0.1, 0.25, 0.5, 1.0]", 'shares: [0.1, "ten percent", 0.5]')
    assert _error(RegionConfig, tmp_path, text) == (
        "balance.shares[1]: 'ten percent' is not a number (give a share in (0, 1], e.g. 0.25)")


def test_share_above_one(tmp_path):
    text = _replace(REGION, "shares: [0.1, 0.25, 0.5, 1.0]", "shares: [10, 25]")
    assert _error(RegionConfig, tmp_path, text) == (
        "balance.shares[0]: 10 must be <= 1 (give a share in (0, 1], e.g. 0.25) (and 1 more problem)")


def test_replaced_fuel_typo(tmp_path):
    text = _replace(REGION, "replaced_fuel: heating_oil", "replaced_fuel: heating oil")
    assert _error(RegionConfig, tmp_path, text) == (
        "balance.replaced_fuel: 'heating oil' must be one of heating_oil, natural_gas; did you mean 'heating_oil'?")


def test_negative_inhabitants(tmp_path):
    text = _replace(REGION, "inhabitants: 16715}", "inhabitants: -5}")
    assert _error(RegionConfig, tmp_path, text) == "municipalities[Wurzen].inhabitants: -5 must be a positive integer"


def test_inhabitants_as_text(tmp_path):
    text = _replace(REGION, "inhabitants: 16715}", 'inhabitants: "16.715"}')
    assert _error(RegionConfig, tmp_path, text) == (
        "municipalities[Wurzen].inhabitants: '16.715' is not a whole number (give a positive integer, e.g. 16715)")


@pytest.mark.parametrize("ags, shown", [('"1472941"', "'1472941'"), ('"14729410x"', "'14729410x'"),
                                        ("1472941.0", "1472941.0")])
def test_bad_ags(tmp_path, ags, shown):
    text = _replace(REGION, 'ags: "14729410"', f"ags: {ags}")
    assert _error(RegionConfig, tmp_path, text) == (
        f"municipalities[Wurzen].ags: {shown} must be 8 digits, the official municipality key (AGS), "
        "e.g. \"14713000\" for Leipzig")


def test_ags_with_lost_leading_zero(tmp_path):
    text = _replace(REGION, 'ags: "14729410"', "ags: 1001000")
    assert _error(RegionConfig, tmp_path, text).endswith(
        "quote a key with a leading zero, e.g. \"01001000\"")


def test_duplicate_ags(tmp_path):
    text = _replace(REGION, 'ags: "14729030"', 'ags: "14729410"')
    assert _error(RegionConfig, tmp_path, text) == (
        "municipalities[Bennewitz].ags: AGS '14729410' is listed twice (also municipalities[0])")


def test_duplicate_name(tmp_path):
    """Results are reported by name: two municipalities of one name would be added into one row."""
    text = _replace(REGION, '{name: Bennewitz, ags: "14729030"', '{name: wurzen, ags: "14729030"')
    assert _error(RegionConfig, tmp_path, text) == (
        "municipalities[wurzen].name: name 'wurzen' is given twice (also municipalities[0]); give each "
        "municipality its own name, e.g. 'wurzen (14729030)'")


def test_municipality_without_name_or_ags(tmp_path):
    text = _replace(REGION, '{name: Bennewitz, ags: "14729030", group: Wurzener Land}', "{group: Wurzener Land}")
    assert _error(RegionConfig, tmp_path, text) == (
        "municipalities[1]: a municipality needs 'ags' (8-digit key, e.g. \"14713000\") or 'name'")


def test_unknown_top_level_region_key(tmp_path):
    text = _replace(REGION, "margin_m: 3000", "margin: 3000")
    assert _error(RegionConfig, tmp_path, text) == (
        "unknown key 'margin'; did you mean 'margin_m'? allowed: name, title, state, rule_set, margin_m, "
        "municipalities, balance, baseline, sources, allocation")


def test_unknown_key_without_close_match(tmp_path):
    text = REGION + "colour: blue\n"
    assert _error(RegionConfig, tmp_path, text) == (
        "unknown key 'colour'; allowed: name, title, state, rule_set, margin_m, municipalities, balance, "
        "baseline, sources, allocation")


def test_status_typo(tmp_path):
    text = _replace(REGION, "status: SRC", "status: XYZ")
    assert _error(RegionConfig, tmp_path, text) == "baseline.status: 'XYZ' must be one of EST, SRC, UNV"


def test_status_in_lower_case_is_suggested(tmp_path):
    text = _replace(REGION, "status: SRC", "status: src")
    assert _error(RegionConfig, tmp_path, text) == (
        "baseline.status: 'src' must be one of EST, SRC, UNV; did you mean 'SRC'?")


def test_baseline_group_not_of_the_municipalities(tmp_path):
    text = _replace(REGION, "    Wurzener Land: {inhabitants", "    Wurzner Land: {inhabitants")
    assert _error(RegionConfig, tmp_path, text) == (
        "baseline.groups: unknown group 'Wurzner Land'; did you mean 'Wurzener Land'? "
        "the municipalities' groups are Wurzener Land")


def test_negative_baseline_figure(tmp_path):
    text = _replace(REGION, "ghg_t_co2e_a: 292483", "ghg_t_co2e_a: -1")
    assert _error(RegionConfig, tmp_path, text) == "baseline.groups.Wurzener Land.ghg_t_co2e_a: -1 must be >= 0"


def test_osm_source_without_path(tmp_path):
    text = _replace(REGION, "    path: osm/omt.gpkg\n", "")
    assert _error(RegionConfig, tmp_path, text) == "sources.osm: 'path' is missing (required for type openmaptiles)"


def test_osmnx_needs_no_path(tmp_path):
    text = _replace(REGION, "    type: openmaptiles\n    path: osm/omt.gpkg\n    buildings: osm/buildings.gpkg\n",
                    "    type: osmnx\n")
    assert load(RegionConfig, _write(tmp_path, text), what="Region file").sources.osm.path is None


def test_file_source_without_path(tmp_path):
    text = _replace(REGION, "path: lsg.shp, ", "")
    assert _error(RegionConfig, tmp_path, text) == "sources.files[0]: 'path' is missing (required)"


def test_raster_without_path(tmp_path):
    text = REGION + "  rasters:\n    nfk: {unit: mm}\n"
    assert _error(RegionConfig, tmp_path, text) == "sources.rasters.nfk: 'path' is missing (required)"


def test_file_source_needs_class_field_or_value(tmp_path):
    text = _replace(REGION, "value: LSG, ", "")
    assert _error(RegionConfig, tmp_path, text) == (
        "sources.files[0]: give exactly one of 'class_field' (the column holding the class) or "
        "'value' (one class for every feature)")


def test_osm_type_typo(tmp_path):
    text = _replace(REGION, "type: openmaptiles", "type: osmfile")
    assert _error(RegionConfig, tmp_path, text) == (
        "sources.osm.type: 'osmfile' must be one of mbtiles, openmaptiles, osm_file, osm_xml, osmnx; did you mean "
        "'osm_file'?")


def test_files_null(tmp_path):
    text = REGION.split("  files:")[0] + "  files:\n"
    assert _error(RegionConfig, tmp_path, text) == "sources.files: null must be a list (write [] for none)"


def test_sources_null(tmp_path):
    text = REGION.split("sources:")[0] + "sources:\n"
    assert _error(RegionConfig, tmp_path, text) == (
        "sources: null must be a mapping with the keys boundaries, osm, rasters, files, parcels")


def test_unquoted_dates_and_class_codes_are_taken(tmp_path):
    text = REGION + ("  boundaries: {path: vg250.geojson, date: 2016-01-01}\n"
                     "  parcels: {path: flurstuecke.gpkg, id_field: fsk, date: 2024-05-01}\n"
                     "  rasters:\n    nfk: {path: soil.tif, unit: mm}\n")
    text = _replace(text, "value: LSG, ", "class_field: TYP, class_map: {1: LSG, 2: NSG}, ")
    region = load(RegionConfig, _write(tmp_path, text), what="Region file")
    assert region.sources.boundaries.date == "2016-01-01" and region.sources.boundaries.ags_field == "AGS"
    assert region.sources.files[0].class_map == {"1": "LSG", "2": "NSG"}
    assert region.sources.parcels.id_field == "fsk" and region.sources.rasters["nfk"].unit == "mm"


# --------------------------------------------------------------------------------------------
# rule sets


def test_misspelt_key_in_a_score_rule(tmp_path):
    text = _replace(RULES, "weight: 2,", "weigth: 2,")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[land_cover]: unknown key 'weigth'; did you mean 'weight'? "
        "allowed: name, attribute, curve, map, weight, status, source")


def test_score_map_value_out_of_range(tmp_path):
    text = _replace(RULES, "map: {arable: 100,", "map: {arable: 500,")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[land_cover].map.arable: 500 must be <= 100 (a score lies in 0…100)")


def test_curve_score_out_of_range(tmp_path):
    text = _replace(RULES, "[2000, 100]", "[2000, 120]")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[distance].curve[1][1]: 120 must be <= 100 (a score lies in 0…100)")


def test_curve_x_must_increase(tmp_path):
    text = _replace(RULES, "[[1000, 50], [2000, 100]]", "[[2000, 50], [1000, 100]]")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[distance].curve[1]: x 1000 must be greater than the x 2000 before it "
        "(curve points go by increasing x)")


def test_curve_point_not_a_pair(tmp_path):
    text = _replace(RULES, "[[1000, 50], [2000, 100]]", "[[1000, 50], 2000]")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[distance].curve[1]: 2000 must be a pair [x, score], e.g. [0, 100]")


def test_curve_and_map_together(tmp_path):
    text = _replace(RULES, "curve: [[1000, 50], [2000, 100]]", "curve: [[1000, 50]], map: {a: 1}")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "scores[distance]: give exactly one of 'curve' (points [x, score]) or 'map' (class: score)")


def test_duplicate_rule_names(tmp_path):
    text = _replace(RULES, "name: single_building", "name: settlement")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "exclusions[settlement].name: the rule name 'settlement' is used twice; names must be unique within exclusions")


def test_buffer_outside_its_range(tmp_path):
    text = _replace(RULES, "buffer: 1000,", "buffer: 1200,")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "exclusions[settlement]: buffer 1200 lies outside its range 750…1000"
        " (change the value, or the range with its source, or run with --allow-out-of-range)")


def test_buffer_not_an_expression(tmp_path):
    text = _replace(RULES, '"2 * total_height_m"', '"2 x total height"')
    assert _error(RuleSetConfig, tmp_path, text) == (
        "exclusions[single_building].buffer: '2 x total height' is not a number or an arithmetic expression "
        "(a number of metres >= 0 or an arithmetic expression of named values, e.g. \"2 * total_height_m\")")


def test_buffer_unit(tmp_path):
    text = _replace(RULES, "buffer: 1000, unit: m,", "buffer: 1, unit: km,")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "exclusions[settlement].unit: 'km' must be 'm' (buffers are given in metres)")


def test_eligible_class_typo(tmp_path):
    text = _replace(RULES, "[arable, grassland]", "[arable, grasland]")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "eligible_classes[1]: 'grasland' must be one of arable, conversion, forest, grassland, industrial, other, "
        "residential, transport, water; did you mean 'grassland'?")


def test_grouped_value_with_unit_in_the_value(tmp_path):
    text = _replace(RULES, "rotor_diameter_m: {value: 160,", 'rotor_diameter_m: {value: "160 m",')
    assert _error(RuleSetConfig, tmp_path, text) == (
        "turbine.rotor_diameter_m.value: '160 m' is not a number "
        "(write the number alone, the unit goes under 'unit', e.g. value: 2400)")


def test_grouped_value_out_of_range(tmp_path):
    text = _replace(RULES, "rotor_diameter_m: {value: 160,", "rotor_diameter_m: {value: 200,")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "turbine.rotor_diameter_m: value 200 lies outside its range 146…175"
        " (change the value, or the range with its source, or run with --allow-out-of-range)")


def test_out_of_range_allowed_is_recorded_with_file_and_key(tmp_path):
    from landuse.schema import out_of_range_allowed

    text = _replace(RULES, "rotor_diameter_m: {value: 160,", "rotor_diameter_m: {value: 200,")
    path = tmp_path / "wind.yaml"
    path.write_text(text)
    with out_of_range_allowed() as records:
        cfg = validate(RuleSetConfig, yaml.safe_load(text), path=path)
    assert cfg.values()["rotor_diameter_m"].value == 200
    assert records == [f"{path}: turbine.rotor_diameter_m: value 200 lies outside its range 146…175"]
    with pytest.raises(ConfigError, match="--allow-out-of-range"):  # outside the block it is an error again
        validate(RuleSetConfig, yaml.safe_load(text), path=path)
    # a broken value is an error even while ranges are allowed
    bad = _replace(RULES, "rotor_diameter_m: {value: 160,", "rotor_diameter_m: {value: big,")
    with out_of_range_allowed(), pytest.raises(ConfigError, match="rotor_diameter_m"):
        validate(RuleSetConfig, yaml.safe_load(bad), path=path)


def test_rule_set_value_not_an_entry(tmp_path):
    text = _replace(RULES, "min_patch_ha: {value: 3, unit: ha, low: 1, high: 5, status: SRC, source: secondary source}",
                    "min_patch_ha: 3")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "min_patch_ha: 3 must be a parameter entry {value, unit, source, status} or a mapping of such entries")


def test_misspelt_list_key_of_a_rule_set(tmp_path):
    text = _replace(RULES, "exclusions:", "exclusion:")
    assert _error(RuleSetConfig, tmp_path, text) == (
        "unknown key 'exclusion'; did you mean 'exclusions'? allowed: technology, rule_set, eligible_classes, "
        "exclusions, limits, scores, or parameter entries")


def test_prefix_names_the_scenario(tmp_path):
    data = read_yaml(_write(tmp_path, RULES), what="Criteria file")
    data["exclusions"][0]["buffer"] = "750 m"
    with pytest.raises(ConfigError) as info:
        validate(RuleSetConfig, data, path="wind.yaml", prefix="scenario wind_750m.")
    assert str(info.value).startswith(
        "wind.yaml: scenario wind_750m.exclusions[settlement].buffer: '750 m' is not a number or an arithmetic")


# --------------------------------------------------------------------------------------------
# parameter files, scenarios, land statistics


def test_parameter_value_with_unit(tmp_path):
    text = _replace(PARAMETERS, "{value: 2400,", '{value: "2400 h",')
    assert _error(ParameterFile, tmp_path, text) == (
        "wind_full_load_hours_h_a.value: '2400 h' is not a number "
        "(write the number alone, the unit goes under 'unit', e.g. value: 2400)")


def test_parameter_value_true_is_not_a_number(tmp_path):
    text = _replace(PARAMETERS, "{value: 2400,", "{value: yes,")
    assert _error(ParameterFile, tmp_path, text).startswith("wind_full_load_hours_h_a.value: true is not a number")


def test_parameter_out_of_range(tmp_path):
    text = _replace(PARAMETERS, "{value: 2400,", "{value: 3400,")
    assert _error(ParameterFile, tmp_path, text) == (
        "wind_full_load_hours_h_a: value 3400 lies outside its range 2000…2800"
        " (change the value, or the range with its source, or run with --allow-out-of-range)")


def test_parameter_missing_source_and_unknown_key(tmp_path):
    text = "x: {value: 1, unit: m, status: EST, sorce: a book}\n"
    assert _error(ParameterFile, tmp_path, text) == "x: 'source' is missing (required) (and 1 more problem)"


def test_parameter_as_plain_number(tmp_path):
    assert _error(ParameterFile, tmp_path, "x: 5\n") == (
        "x: 5 must be a mapping with the keys value, unit, source, status, low, high, note")


def test_check_names_suggests_by_words():
    with pytest.raises(ConfigError) as info:
        check_names(["pv_yeild"], ["wind_full_load_hours_h_a", "pv_specific_yield_kwh_per_kwp_a"], path="p.yaml")
    assert str(info.value) == (
        "p.yaml: unknown parameter 'pv_yeild'; did you mean 'pv_specific_yield_kwh_per_kwp_a'? "
        "known: pv_specific_yield_kwh_per_kwp_a, wind_full_load_hours_h_a.")
    check_names(["pv_specific_yield_kwh_per_kwp_a"], ["pv_specific_yield_kwh_per_kwp_a"], path="p.yaml")


def test_check_names_cuts_a_long_list():
    known = [f"name_{i:02d}" for i in range(30)]
    with pytest.raises(ConfigError) as info:
        check_names(["zzz"], known, path="p.yaml", what="technology")
    message = str(info.value)
    assert message.startswith("p.yaml: unknown technology 'zzz'; known: ")
    assert message.endswith(", ... (30 in all).") and message.count("name_") == 8


def test_did_you_mean():
    assert did_you_mean("weigth", ["name", "weight"]) == " Did you mean 'weight'?"
    assert did_you_mean("xyz", ["name", "weight"]) == ""


def test_scenario_override_must_be_a_mapping(tmp_path):
    text = "wind_750m:\n  description: x\n  wind:\n    exclusions:\n      settlement: 750\n"
    assert _error(ScenariosFile, tmp_path, text) == (
        "wind_750m.wind.exclusions.settlement: 750 must be a mapping (key: value)")


def test_scenario_overrides_as_written(tmp_path):
    text = "s:\n  description: x\n  wind:\n    exclusions: {settlement: {buffer: 750}}\n    min_patch_ha: {value: 2}\n"
    scenario = load(ScenariosFile, _write(tmp_path, text), what="Scenario file").root["s"]
    assert scenario.technologies() == ["wind"]
    assert scenario.override("wind") == {"exclusions": {"settlement": {"buffer": 750}}, "min_patch_ha": {"value": 2}}
    assert scenario.override("pv") == {}


def test_width_out_of_range(tmp_path):
    text = ("settlement_classes: [residential]\nsettlement_subclasses: []\ntransport_classes: [transport]\n"
            "widths:\n  source: EST\n  road_kind:\n    motorway: {value: 50, unit: m, low: 26, high: 36, status: EST}\n"
            "  railway_kind: {}\n")
    assert _error(LandStatisticsConfig, tmp_path, text) == (
        "widths.road_kind.motorway: value 50 lies outside its range 26…36"
        " (change the value, or the range with its source, or run with --allow-out-of-range)")


def test_type_adapter(tmp_path):
    with pytest.raises(ConfigError) as info:
        validate(TypeAdapter(dict[str, ParameterEntry]), {"a": {"value": 1, "unit": "m", "source": "s",
                                                               "status": "EST", "hihg": 2}}, path="x.yaml")
    assert str(info.value) == (
        "x.yaml: a: unknown key 'hihg'; did you mean 'high'? allowed: value, unit, source, status, low, high, note")


# --------------------------------------------------------------------------------------------
# every shipped YAML file validates


def _model_for(path: Path, data) -> type:
    if path.name == "scenarios.yaml":
        return ScenariosFile
    if path.name == "land_statistics.yaml":
        return LandStatisticsConfig
    if path.name == "allocation.yaml":
        return schema.AllocationConfig
    if isinstance(data, dict) and "technology" in data:
        return RuleSetConfig
    if isinstance(data, dict) and "municipalities" in data:
        return RegionConfig
    return ParameterFile


SHIPPED = sorted(PACKAGE_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(PACKAGE_DIR).as_posix() for p in SHIPPED])
def test_shipped_file_validates(path):
    data = read_yaml(path, what="Shipped file")
    assert data, f"{path} is empty"
    if path.parent.name == "templates":  # a region template: valid once --ags fills in the municipalities
        data = {**data, "name": "ags-14625020", "municipalities": [{"name": "Bautzen", "ags": "14625020"}]}
    validate(_model_for(path, data), data, path=path)


def test_every_kind_of_file_is_shipped():
    kinds = [_model_for(p, read_yaml(p, what="Shipped file")) for p in SHIPPED]
    assert {RegionConfig, RuleSetConfig, ScenariosFile, ParameterFile, LandStatisticsConfig} <= set(kinds)
    techs = {read_yaml(p, what="x")["technology"] for p, k in zip(SHIPPED, kinds, strict=True) if k is RuleSetConfig}
    assert {"wind", "pv", "agroforestry"} <= techs


def test_shipped_wind_rules_values():
    path = next(p for p in SHIPPED if p.name == "wind.yaml")
    rules = load(RuleSetConfig, path, what="Criteria file")
    assert rules.value_groups()["rotor_diameter_m"] == "turbine"
    assert rules.values()["total_height_m"].value == 247
    assert {e.measured_from for e in rules.exclusions} == {None, "rotor"}


def test_schema_imports_nothing_else_of_the_package():
    source = Path(schema.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("from landuse", "import landuse"))]
    assert imports == ["from landuse.errors import ConfigError"]
