"""Every notebook in notebooks/ is executed, so none can go stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration  # the real MiniLM and stores built from real files

EXPECTED = {"quickstart": "[1]", "evaluation": "| metric | lantern |"}  # a cited answer; a report table
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = "".join(str(o.get("text", "")) + str(o.get("data", "")) for c in notebook.cells for o in c.get("outputs", []))
    assert EXPECTED[path.stem] in shown  # the notebook showed what it is about
