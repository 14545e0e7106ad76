"""The widget in a marimo app (tests/e2e/test_marimo.py serves it with `marimo run`).

The last cell shows what Python sees, as JSON in `<pre data-cw-python>`: it reads
`mw.value`, so marimo runs it again whenever the widget's traits change.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import html
    import json

    import marimo as mo
    from fake_digits import LABELS, fake_digits

    from confusion_widget import ConfusionWidget

    return ConfusionWidget, LABELS, fake_digits, html, json, mo


@app.cell
def _(ConfusionWidget, LABELS, fake_digits):
    y_true, y_pred, images = fake_digits()
    w = ConfusionWidget.from_predictions(
        y_true, y_pred, labels=LABELS, images=images, title="digits in marimo"
    )
    return (w,)


@app.cell
def _(mo, w):
    mw = mo.ui.anywidget(w)
    mw
    return (mw,)


@app.cell
def _(html, json, mo, mw, w):
    _seen = {
        "epoch": mw.value["epoch"],
        "selected": mw.value["selected"],
        "samples": [int(s) for s in w.selected_samples[:25]],
    }
    mo.Html(f"<pre data-cw-python>{html.escape(json.dumps(_seen))}</pre>")
    return


if __name__ == "__main__":
    app.run()
