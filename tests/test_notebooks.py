"""The notebooks that the browser tests do not open run top to bottom.

``train_to_log.ipynb`` runs ``train_digits.py`` in a subprocess (a training script
writing a run log) and then opens the log from the notebook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def test_train_to_log_notebook(tmp_path):
    for name in ("train_to_log.ipynb", "train_digits.py"):
        shutil.copy(NOTEBOOKS / name, tmp_path / name)
    nb = nbformat.read(tmp_path / "train_to_log.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "digits-cnn 6 epochs, 540 samples" in text
    from confusion_widget import ConfusionWidget

    w = ConfusionWidget.from_store(tmp_path / "runs.db", run="digits-cnn")
    assert w.n_epochs == 6 and w.matrix.sum() == 540
    assert w._has_samples and w.source.images is not None  # thumbnails were stored with the run
