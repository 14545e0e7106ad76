"""Snapshots: the current matrix as CSV, and the PNG that rides in the display data
for viewers that run no widgets."""

import base64
import csv
import io

import numpy as np
import pytest
from PIL import Image

from confusion_widget import ConfusionWidget, Run


def test_csv_is_the_current_epoch_in_the_current_aggregation(tmp_path):
    w = ConfusionWidget(np.array([[[5, 1], [2, 7]], [[6, 0], [0, 9]]]), labels=["cat", "dog"])
    assert w.to_csv() == ",cat,dog\ncat,6,0\ndog,0,9\n"
    w.epoch, w.aggregation = 0, "column"
    rows = list(csv.reader(io.StringIO(w.to_csv(tmp_path / "m.csv"))))
    assert rows == [["", "cat", "dog"], ["cat", "0.714286", "0.125"], ["dog", "0.285714", "0.875"]]
    assert (tmp_path / "m.csv").read_text() == w.to_csv()


def test_csv_names_are_quoted_and_never_formulas():
    names = ["=cmd|'/c calc'!A1", "a, b", 'say "hi"', "+1", "line\nbreak"]
    w = ConfusionWidget(np.eye(5, dtype=int), labels=names)
    rows = list(csv.reader(io.StringIO(w.to_csv())))
    assert rows[0] == ["", "'=cmd|'/c calc'!A1", "a, b", 'say "hi"', "'+1", "line\nbreak"]
    assert [r[0] for r in rows[1:]] == rows[0][1:]


def test_csv_of_a_comparison_has_a_tile_column_and_difference_of_recalls():
    y = np.array([0, 0, 1, 1])
    a = Run(["x", "y"], y, [[0, 1, 1, 1]], name="a")
    b = Run(["x", "y"], y, [[0, 0, 1, 0]], name="b")
    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True, aggregation="row")
    rows = list(csv.reader(io.StringIO(w.to_csv())))
    assert rows[0] == ["tile", "", "x", "y"]
    assert [r[0] for r in rows[1:]] == ["a", "a", "b", "b", "b − a", "b − a"]
    diff = np.array([[float(v) for v in r[2:]] for r in rows[5:]])
    np.testing.assert_allclose(diff, [[0.5, -0.5], [0.5, -0.5]])  # recall of b − recall of a


def png_of(w):
    data, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    return Image.open(io.BytesIO(base64.b64decode(data["image/png"])))


@pytest.mark.parametrize("k", [3, 40, 1000])
def test_display_data_carries_a_png_of_the_matrix(k):
    cm = np.diag(np.arange(1, k + 1))
    cm[0, -1] = 1  # one error far from the diagonal stays visible when pooled
    img = png_of(ConfusionWidget(cm, title="run <b>1</b>"))
    assert img.format == "PNG" and 100 < img.width < 700 and 100 < img.height < 700
    px = np.asarray(img.convert("RGB")).astype(int)
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 3  # drawn, not blank


def test_png_of_a_comparison_has_a_tile_each():
    y = np.arange(30) % 3
    runs = {n: Run.from_predictions(y, (y + i) % 3, name=n) for i, n in enumerate("ab")}
    one = png_of(ConfusionWidget(runs["a"].matrices()[:, 0]))
    three = png_of(ConfusionWidget.compare(runs, diff=True))
    assert three.width > 2.5 * one.width - 200


def test_csv_follows_the_order_drawn():
    w = ConfusionWidget([[5, 1, 0], [2, 7, 3], [0, 0, 9]], labels=["b", "c", "a"], order="name")
    assert w.display_order == [2, 0, 1]
    assert w.to_csv().splitlines() == [",a,b,c", "a,9,0,0", "b,0,5,1", "c,3,2,7"]
