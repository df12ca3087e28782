"""Region configuration and data location."""

import pytest

from landuse.config import available_regions, load_region, resolve_data_dir
from landuse.errors import ConfigError, DataError


def test_default_region():
    r = load_region()
    assert r.name == "leipzig-wurzen"
    assert {m.ags for m in r.municipalities} == {"14713000", "14729410", "14729030", "14729380", "14729245"}
    assert r.groups == ["Leipzig", "Wurzener Land"]
    base = r.baseline["groups"]
    assert base["Leipzig"]["ghg_t_co2e_a"] == 3401109
    assert base["Wurzener Land"]["ghg_t_co2e_a"] == 292483
    for g in base.values():  # the categories add up to the land area (source rounds: 28,006 vs 28,008)
        assert g["settlement_ha"] + g["transport_ha"] + g["vegetation_water_ha"] == pytest.approx(
            g["land_area_ha"], abs=3)
    assert "leipzig-wurzen" in available_regions()


def test_unknown_region_suggests():
    with pytest.raises(ConfigError, match="Did you mean leipzig-wurzen"):
        load_region("leipzig-wurzn")


MUNICIPALITY_HINT = '(give at least one municipality, e.g. - {name: Leipzig, ags: "14713000"})'


@pytest.mark.parametrize("text, message", [
    ("name: x\nmunicipalities: []\nsources: {}\n",
     "municipalities: [] must not be empty " + MUNICIPALITY_HINT),
    ("name: x\nmunicipalities: null\nsources: {}\n",
     "municipalities: null must be a list " + MUNICIPALITY_HINT),
    ("name: x\nmunicipalities: [{ags: '123'}]\nsources: {}\n",
     "municipalities[0].ags: '123' must be 8 digits, the official municipality key (AGS), e.g. \"14713000\" for "
     "Leipzig"),
    ("name: x\nmunicipalities: [{ags: '14713000'}]\nsources: {}\nfoo: 1\n",
     "unknown key 'foo'; allowed: name, title, state, rule_set, margin_m, municipalities, balance, baseline, "
     "sources, allocation"),
    ("name: x\nmunicipalities: [{ags: '14713000'}]\n", "'sources' is missing (required)"),
])
def test_bad_region_files(tmp_path, text, message):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_region(p)
    assert str(info.value) == f"{p}: {message}"


@pytest.mark.parametrize("text, position, problem", [
    ("name: [x\n", "2:1", "expected ',' or ']', but got '<stream end>'"),
    ("name: x\ntitle: Tiny region: east\nmunicipalities: [{ags: '14713000'}]\nsources: {}\n", "2:19",
     "mapping values are not allowed here"),
    ("name: x\nmunicipalities:\n\t- {ags: '14713000'}\nsources: {}\n", "3:1",
     "found character '\\t' that cannot start any token"),
])
def test_region_yaml_syntax_gives_file_line_column(tmp_path, text, position, problem):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_region(p)
    assert str(info.value) == f"{p}:{position}: {problem}"


def test_missing_region_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_region(tmp_path / "nowhere.yaml")
    assert str(info.value) == f"Region file {tmp_path / 'nowhere.yaml'} not found."


def test_data_dir_order(tmp_path, monkeypatch):
    r = load_region()
    monkeypatch.setenv("LANDUSE_DATA", str(tmp_path))
    assert resolve_data_dir(r) == tmp_path
    other = tmp_path / "x"
    other.mkdir()
    assert resolve_data_dir(r, other) == other  # --data wins over the environment
    with pytest.raises(DataError, match="from --data"):
        resolve_data_dir(r, tmp_path / "missing")
    monkeypatch.setenv("LANDUSE_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="LANDUSE_DATA"):
        resolve_data_dir(r)


def test_public_api_importable():
    import landuse

    for name in landuse.__all__:
        assert getattr(landuse, name) is not None, name
    with pytest.raises(AttributeError):
        landuse.nothing_here  # noqa: B018
