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


@pytest.mark.parametrize("text, message", [
    ("name: x\nmunicipalities: []\nsources: {}\n", "empty"),
    ("name: x\nmunicipalities: [{ags: '123'}]\nsources: {}\n", "8 digits"),
    ("name: x\nmunicipalities: [{ags: '14713000'}]\nsources: {}\nfoo: 1\n", "unknown key"),
    ("name: x\nmunicipalities: [{ags: '14713000'}]\n", "missing required key 'sources'"),
    ("name: [x\n", "not valid YAML"),
])
def test_bad_region_files(tmp_path, text, message):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_region(p)


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
