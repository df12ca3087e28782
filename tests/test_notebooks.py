"""The notebooks run top to bottom on the default region's real data (executed with nbclient)."""

from pathlib import Path

import nbformat
import pytest
from conftest import REAL_REGION_DATA
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.skipif(not REAL_REGION_DATA.is_dir(), reason="real data of the default region not found")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    html_outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "text/html" in o.get("data", {})]
    assert html_outputs, "no table or map was shown"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
