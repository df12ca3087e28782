"""The exports in the GIS clients municipal staff use: QGIS (PyQGIS of the system's python3,
Debian packages ``qgis`` and ``python3-qgis``) opens every layer of ``landuse.gpkg`` and of
``shapefiles/`` with its default style, loads every further style, and finds no invalid
geometry by its own check (``QgsGeometry.validateGeometry``, QGIS and GEOS engines); GDAL's
``ogrinfo`` (3.6 on Debian 12) reads them without a warning.

Skipped with a message where ``/usr/bin/python3`` cannot import ``qgis.core`` or ``ogrinfo`` is
missing (CI installs both). Runs on the tiny synthetic region and, where the real data is beside
the checkout, on Thallwitz (real parcel geometries, the ones with near-duplicate vertices).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyogrio
import pytest

from landuse.export import layer_description, layer_styles, result_layer_names

SYSTEM_PYTHON = os.environ.get("LANDUSE_QGIS_PYTHON", "/usr/bin/python3")

#: Run by the system python3 with PyQGIS: argv gpkg, shapefile folder; prints JSON.
PROBE = r'''
import json, sys
from pathlib import Path
from qgis.core import Qgis, QgsApplication, QgsGeometry, QgsVectorLayer
from qgis.PyQt.QtXml import QDomDocument

app = QgsApplication([], False)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(
    lambda msg, tag, level: messages.append({"tag": tag, "level": int(level), "message": msg}))


def renderer_info(layer):
    r = layer.renderer()
    attr = r.classAttribute() if hasattr(r, "classAttribute") else None
    items = r.legendSymbolItems()
    return {"renderer": r.type(), "attr": attr, "attr_found": attr is None or layer.fields().indexOf(attr) >= 0,
            "labels": [i.label() for i in items],
            "colors": [i.symbol().color().name() for i in items if i.symbol() is not None]}


def invalid(layer):
    counts, examples = {"qgis": 0, "geos": 0}, []
    for feature in layer.getFeatures():
        geometry = feature.geometry()
        for engine, flag in (("qgis", QgsGeometry.ValidatorQgisInternal), ("geos", QgsGeometry.ValidatorGeos)):
            errors = geometry.validateGeometry(flag)
            if errors:
                counts[engine] += 1
                if len(examples) < 5:
                    examples.append(f"{engine} fid {feature.id()}: {errors[0].what()}")
    return counts, examples


gpkg, folder = Path(sys.argv[1]), Path(sys.argv[2])
out = {"qgis": Qgis.QGIS_VERSION, "layers": [], "messages": messages}
everything = QgsVectorLayer(str(gpkg), "all", "ogr")
names = [s.split("!!::!!")[1] for s in everything.dataProvider().subLayers()]
for name in names:
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    if not layer.isValid() or not layer.isSpatial():
        continue
    info = {"source": "gpkg", "name": name, "valid": layer.isValid(), "features": layer.featureCount(),
            "abstract": layer.metadata().abstract(), **renderer_info(layer)}
    related, ids, style_names, _, error = layer.listStylesInDatabase()
    info["styles"] = []
    for style_id, style_name in list(zip(ids, style_names))[:related]:
        qml, error = layer.getStyleFromDatabase(style_id)
        doc = QDomDocument()
        doc.setContent(qml)
        ok, error = layer.importNamedStyle(doc)
        info["styles"].append({"name": style_name, "ok": ok, "error": error, **renderer_info(layer)})
    info["invalid"], info["examples"] = invalid(layer)
    out["layers"].append(info)
for shp in sorted(folder.glob("*.shp")):
    layer = QgsVectorLayer(str(shp), shp.stem, "ogr")
    info = {"source": "shp", "name": shp.stem, "valid": layer.isValid(), "features": layer.featureCount(),
            **renderer_info(layer), "styles": []}
    for qml in sorted(folder.glob(f"{shp.stem}.*.qml")):
        message, ok = layer.loadNamedStyle(str(qml))
        info["styles"].append({"name": qml.name, "ok": ok, "error": "" if ok else message, **renderer_info(layer)})
    info["invalid"], info["examples"] = invalid(layer)
    out["layers"].append(info)
print("PROBE-JSON " + json.dumps(out))
'''


def _qgis_missing() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, timeout=120)
    return None if r.returncode == 0 else f"{SYSTEM_PYTHON} cannot import qgis.core (install qgis python3-qgis): " \
                                          f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"


@pytest.fixture(scope="module")
def qgis_python() -> str:
    missing = _qgis_missing()
    if missing:
        pytest.skip(missing)
    return SYSTEM_PYTHON


@pytest.fixture(scope="module")
def thallwitz_export(thallwitz_region, tmp_path_factory):
    """Exports of Thallwitz on the real data (skipped without it)."""
    from conftest import REAL_REGION_DATA

    from landuse.pipeline import run

    base = tmp_path_factory.mktemp("thallwitz-qgis")
    run(thallwitz_region, data=REAL_REGION_DATA, layers_dir=base / "layers", out=base / "out", outputs=("exports",))
    return base / "out"


@pytest.fixture(scope="module", params=["tiny", "thallwitz"])
def export_dir(request, tiny_run) -> Path:
    if request.param == "tiny":
        return tiny_run[1]
    return request.getfixturevalue("thallwitz_export")


def _probe(python: str, out: Path, tmp_path: Path) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    r = subprocess.run([python, str(script), str(out / "landuse.gpkg"), str(out / "shapefiles")],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("PROBE-JSON "))
    return json.loads(line.removeprefix("PROBE-JSON "))


def _expected_renderer(layer: str) -> str:
    key = layer_styles(layer)[0].key
    return {"land_cover": "categorizedSymbol", "use": "categorizedSymbol", "score": "graduatedSymbol"}.get(
        key, "singleSymbol")


def test_qgis_opens_every_layer_with_its_styles(qgis_python, export_dir, tmp_path):
    report = _probe(qgis_python, export_dir, tmp_path)
    layers = {(x["source"], x["name"]): x for x in report["layers"]}
    names = [n for n in result_layer_names() if (export_dir / "shapefiles" / f"{n}.shp").exists()]
    assert set(names) == set(result_layer_names())
    for name in names:
        features = pyogrio.read_info(export_dir / "landuse.gpkg", layer=name)["features"]
        styles = layer_styles(name)
        for source in ("gpkg", "shp"):
            info = layers[(source, name)]
            where = f"{source}:{name}"
            assert info["valid"] and info["features"] == features, where
            # opened with its default style (from layer_styles, or the .qml beside the Shapefile)
            assert info["renderer"] == _expected_renderer(name), where
            assert info["attr_found"], f"{where}: classifies on {info['attr']!r}, a field it lacks"
            if info["renderer"] != "singleSymbol":
                assert len(info["labels"]) >= 3 and len(set(info["colors"])) == len(info["colors"]), where
            # every further style loads and classifies on a field the layer has
            if source == "gpkg":  # QGIS's style list: the layer's styles, the default first
                assert [s["name"] for s in info["styles"]] == [s.name for s in styles], where
            else:
                assert sorted(s["name"] for s in info["styles"]) == sorted(f"{name}.{s.key}.qml" for s in styles[1:])
            for style in info["styles"]:
                assert style["ok"] and style["attr_found"], f"{where} style {style['name']}: {style['error']}"
            # QGIS's own geometry check, both engines
            assert info["invalid"] == {"qgis": 0, "geos": 0}, f"{where}: {info['examples']}"
        assert layers[("gpkg", name)]["abstract"] == layer_description(name)  # gpkg_contents.description
    scores = [s for s in layers[("gpkg", "parcels")]["styles"] if s["renderer"] == "graduatedSymbol"]
    assert len(scores) == len(layer_styles("parcels")) - 1  # one per technology, in QGIS's style list
    assert all(s["labels"][-1].endswith("90–100 points") for s in scores)
    assert len({tuple(s["colors"]) for s in scores}) == len(scores)  # a palette per technology
    problems = [m for m in report["messages"] if m["level"] >= 1 and "style" in m["message"].lower()]
    assert problems == []


def test_ogrinfo_reads_without_warning(export_dir):
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo not found (install gdal-bin)")
    version = subprocess.run([ogrinfo, "--version"], capture_output=True, text=True).stdout.strip()
    for path in [export_dir / "landuse.gpkg", *sorted((export_dir / "shapefiles").glob("*.shp"))]:
        # -al reads every feature of every layer; GDAL prints warnings to stderr (or stdout)
        r = subprocess.run([ogrinfo, "-ro", "-al", str(path)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{version}, {path.name}: {r.stderr}"
        noise = [line for line in (r.stderr + r.stdout).splitlines() if line.startswith(("Warning", "ERROR"))]
        assert noise == [], f"{version}, {path.name}: {noise[:5]}"
