"""The notebooks (jupytext percent scripts in notebooks/) run top to bottom on real data.

Each ``notebooks/*.py`` is read with jupytext and executed with nbclient, in order 01, 02, 03,
on a one-municipality region (Thallwitz) cut from the default region's data, with the settings
passed to the kernel as environment variables: every file they write lands in pytest's
temporary folders (layer store and output folder shared by the three notebooks, so 02 and 03
reuse the stages 01 built).
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from conftest import REAL_REGION_DATA, REPO, write_thallwitz_region
from nbclient import NotebookClient

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def test_notebooks_found():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03"], NOTEBOOKS


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory) -> dict[str, str]:
    """Environment of the notebooks' kernel: a Thallwitz-only region and temporary folders."""
    if not REAL_REGION_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_REGION_DATA}")
    base = tmp_path_factory.mktemp("notebooks")
    # one group without an emission load: the balance shows absolute figures, the cells still run
    region = write_thallwitz_region(base)
    for sub in ("layers", "outputs", "tmp", "ipython"):
        (base / sub).mkdir()
    return {
        **os.environ,
        "LANDUSE_REGION": str(region),
        "LANDUSE_DATA": str(REAL_REGION_DATA),
        "LANDUSE_LAYERS": str(base / "layers"),
        "LANDUSE_OUT": str(base / "outputs"),
        # tempfile (03 writes a parameter file) and IPython's profile stay in the test's folders
        "TMPDIR": str(base / "tmp"),
        "IPYTHONDIR": str(base / "ipython"),
    }


def _outputs(nb, kind: str | None = None):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if kind is None or o.get("output_type") == kind]


# parametrized in file order: pytest runs 01, 02, 03 one after the other, sharing notebook_env
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, notebook_env):
    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name}: no code cells"
    assert not any(c.get("outputs") for c in code), f"{path.name}: commit notebooks without outputs"
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", f"{path.name}: jupytext header"

    # a failing cell raises CellExecutionError with its traceback; env reaches the kernel
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute(env=notebook_env)

    assert not _outputs(nb, "error"), f"{path.name}: error outputs"
    html = [o for o in _outputs(nb) if "text/html" in o.get("data", {})]
    assert html, f"{path.name}: no table or map was shown"
    out = Path(notebook_env["LANDUSE_OUT"])
    assert (out / ".landuse-cache" / "stages.json").is_file(), "the notebooks write into LANDUSE_OUT"
    assert not (REPO / "outputs" / "thallwitz").exists() and not (REPO / "layers" / "thallwitz.gpkg").exists()
