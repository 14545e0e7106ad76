"""A table-backed widget in real JupyterLab: ``ConfusionWidget.from_parquet`` over a
Parquet file (DuckDB) whose image column holds PNG bytes. A clicked cell's samples
arrive in the browser, in the kernel's order, as real images; "more" pages come from
the engine too. The notebook is written by the test (no committed data)."""

from __future__ import annotations

import nbformat
from harness import click_matrix_cell, kernel_value, run_notebook, thumbnail_ids, wait_drawn, wait_for_python

SOURCE = """\
import io, os, tempfile
import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits

from confusion_widget import ConfusionWidget

digits = load_digits()
y = digits.target
i = np.arange(len(y))
def png(a):
    buf = io.BytesIO()
    Image.fromarray((a * 15).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
df = pd.DataFrame({
    "id": i * 10, "label": y, "pred": np.where(i % 5 == 0, (y + 1) % 10, y),
    "p": (i * 37 % 100) / 100.0, "png": [png(a) for a in digits.images],
})
path = os.path.join(tempfile.mkdtemp(), "digits.parquet")
df.to_parquet(path)
w = ConfusionWidget.from_parquet(path, sample_id="id", confidence="p", image="png",
                                 labels=[str(d) for d in range(10)], title="digits from Parquet")
w"""


def test_parquet_widget_cell_samples_arrive(lab_page, lab_server, lab_events):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SOURCE)]
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(nb, lab_server.root_dir / "frames_parquet.ipynb")

    page = lab_page
    run_notebook(page, lab_server, "frames_parquet.ipynb")
    wait_drawn(page)
    click_matrix_cell(page, 3, 3)
    wait_for_python(page, "w.selected", [3, 3])
    expected = [str(s) for s in kernel_value(page, "[str(s) for s in w.selected_samples]")]
    assert len(expected) > 25  # the diagonal cell has more than one page
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('figure.cw-thumb img[data-sample-id]')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length === n",
        arg=25,
    )
    assert thumbnail_ids(page) == expected[:25]
    assert lab_events.widget_errors() == []
