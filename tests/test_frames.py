"""Tables as cell sources: ``from_dataframe`` gives the same matrices and cell samples
(recomputed here in numpy/Python) for pandas, polars (eager and lazy), pyarrow, Dask and
DuckDB; cells are fetched a page at a time and only small results reach Python;
bad columns give errors that name them. PySpark: ``test_frames_spark.py``."""

from __future__ import annotations

import io
import math

import dask.dataframe as dd
import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from PIL import Image

from confusion_widget import ConfusionWidget, FrameSource, frames
from confusion_widget.frames import frame_source, parquet_source
from confusion_widget.wire import respond

LABELS = ["ant", "bee", "cat", "dog"]
N, E = 240, 3


def make_table(seed: int = 0) -> pd.DataFrame:
    """N samples × E epochs; confidences with ties and missing values."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, N)
    rows = []
    for e in range(E):
        right = rng.random(N) < 0.4 + 0.2 * e
        pred = np.where(right, y, rng.integers(0, 4, N))
        conf = np.round(rng.random(N), 1)  # ties: one decimal
        conf[rng.random(N) < 0.1] = np.nan
        rows.append(
            pd.DataFrame(
                {
                    "sid": np.arange(N) * 3 + 1000,
                    "label": [LABELS[i] for i in y],
                    "pred": [LABELS[i] for i in pred],
                    "conf": conf,
                    "epoch": e,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


TABLE = make_table()


def expected_matrices(df: pd.DataFrame, labels=LABELS) -> np.ndarray:
    k = len(labels)
    m = np.zeros((df["epoch"].max() + 1, k, k), np.int64)
    t = df["label"].map(labels.index).to_numpy()
    p = df["pred"].map(labels.index).to_numpy()
    np.add.at(m, (df["epoch"].to_numpy(), t, p), 1)
    return m


def expected_cell(df: pd.DataFrame, epoch: int, true: str, pred: str) -> list[tuple[int, float | None]]:
    """(id, confidence) most confident first, unknown last, ties by id: brute force."""
    rows = df[(df["epoch"] == epoch) & (df["label"] == true) & (df["pred"] == pred)]
    pairs = [(int(s), None if math.isnan(c) else float(c)) for s, c in zip(rows["sid"], rows["conf"])]
    return sorted(pairs, key=lambda p: (p[1] is None, -(p[1] or 0.0), p[0]))


def engines(df: pd.DataFrame) -> dict:
    return {
        "pandas": lambda: df,
        "polars": lambda: pl.from_pandas(df),
        "polars-lazy": lambda: pl.from_pandas(df).lazy(),
        "pyarrow": lambda: pa.Table.from_pandas(df, preserve_index=False),
        "duckdb": lambda: duckdb.from_arrow(pa.Table.from_pandas(df, preserve_index=False)),
        "dask": lambda: dd.from_pandas(df, npartitions=3),
    }


ENGINES = engines(TABLE)


def check_source(src: FrameSource, df: pd.DataFrame) -> None:
    """Matrices and every non-empty cell's samples equal the brute force."""
    exp = expected_matrices(df)
    assert src.labels == LABELS
    assert src.matrices().shape == (E, 1, 4, 4)
    np.testing.assert_array_equal(src.matrices()[:, 0], exp)
    for e in range(E):
        for r in range(4):
            for c in range(4):
                want = expected_cell(df, e, LABELS[r], LABELS[c])
                hits = src.cell(e, 0, r, c)
                got_ids = src.sample_ids()[hits.positions].tolist()
                got_conf = [None if np.isnan(v) else round(float(v), 6) for v in hits.confidence]
                assert got_ids == [s for s, _ in want], (e, r, c)
                assert got_conf == [None if v is None else round(v, 6) for _, v in want]
                assert len(want) == exp[e, r, c]


@pytest.mark.parametrize("engine", list(ENGINES))
def test_matrices_and_cells_equal_brute_force(engine):
    src = frame_source(ENGINES[engine](), confidence="conf", sample_id="sid", epoch="epoch")
    check_source(src, TABLE)
    assert src.epoch_labels == ["epoch 0", "epoch 1", "epoch 2"]


@pytest.mark.parametrize("engine", list(ENGINES))
def test_pages_are_slices_of_the_cell(engine):
    src = frame_source(ENGINES[engine](), confidence="conf", sample_id="sid", epoch="epoch")
    e, r, c = 2, 1, 1  # a big diagonal cell
    want = [s for s, _ in expected_cell(TABLE, e, "bee", "bee")]
    assert len(want) > 20
    for offset, limit in [(0, 5), (3, 7), (len(want) - 2, 10), (len(want) + 5, 5)]:
        total, hits = src.cell_page(e, 0, r, c, offset, limit)
        assert total == len(want)
        assert src.sample_ids()[hits.positions].tolist() == want[offset : offset + limit]
    with pytest.raises(ValueError, match="row 4 is out of range"):
        src.cell_page(0, 0, 4, 0, 0, 5)


@pytest.mark.parametrize("ids", ["int", "str", "int, image bytes"])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_prefetched_first_pages_equal_the_pages_asked_one_by_one(engine, ids):
    """save_html's prefetch (one windowed query for many cells — for every cell of
    their epochs unless images are bytes — where the engine has ordered windows) gives
    each cell's first page exactly as cell_page does: ties by id, missing confidences
    last. Engines without it fall back to cell by cell."""
    df = TABLE if ids != "str" else TABLE.assign(sid=[f"s{v:05d}" for v in TABLE["sid"]])
    image = "img" if "image" in ids else None
    if image:
        df = df.assign(img=[b"not decoded here %d" % v for v in df["sid"]])
    kw = {"confidence": "conf", "sample_id": "sid", "epoch": "epoch", "image": image}
    one = frame_source(engines(df)[engine](), **kw)
    many = frame_source(engines(df)[engine](), **kw)
    cells = [(e, 0, r, c) for e in range(E) for r in range(4) for c in range(4)]
    many.prefetch(cells, 7)
    if engine not in ("polars", "polars-lazy", "duckdb"):
        assert many._pages == {}  # cell by cell, as without prefetch
        return
    for cell in cells:
        total, want = one.cell_page(*cell, 0, 7)
        got_total, got = many.cell_page(*cell, 0, 7)
        assert got_total == total
        assert many.sample_ids()[got.positions].tolist() == one.sample_ids()[want.positions].tolist()
        np.testing.assert_array_equal(got.confidence, want.confidence)
    assert many._pages == {}  # each page is handed out once


def test_save_html_of_a_table_is_the_same_with_or_without_prefetch(monkeypatch, tmp_path):
    df = TABLE.assign(sid=TABLE["sid"] + 1_000_000 * TABLE["epoch"])
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    w = ConfusionWidget.from_parquet(path, confidence="conf", sample_id="sid", epoch="epoch")
    calls = []
    real = FrameSource.prefetch
    monkeypatch.setattr(FrameSource, "prefetch", lambda self, *a: calls.append(a) or real(self, *a))
    windowed = w.to_html(samples_per_cell=5)
    assert calls and w.source._pages == {}
    monkeypatch.setattr(FrameSource, "prefetch", lambda self, *a: None)
    assert w.to_html(samples_per_cell=5) == windowed


def test_cell_requests_through_the_wire():
    w = ConfusionWidget.from_dataframe(
        pl.from_pandas(TABLE).lazy(), confidence="conf", sample_id="sid", epoch="epoch", page_size=6
    )
    want = [s for s, _ in expected_cell(TABLE, 1, "cat", "dog")]
    msg = {"type": "cell", "id": 3, "epoch": 1, "tile": 0, "row": 2, "col": 3, "offset": 2, "limit": 3}
    (reply, buffers), *rest = list(respond(w.source, msg, matrices=w.source.matrices(), revision=0))
    assert rest == [] and buffers == []
    assert reply["type"] == "cell" and reply["total"] == len(want) and reply["offset"] == 2
    assert [s["id"] for s in reply["samples"]] == want[2:5]
    assert reply["samples"][0]["error"] == "no images were given"
    bad = {"type": "cell", "id": 4, "epoch": 7, "tile": 0, "row": 0, "col": 0}
    (err, _), *_ = respond(w.source, bad, matrices=w.source.matrices(), revision=0)
    assert err == {
        "type": "error",
        "id": 4,
        "error": "ValueError: epoch 7 is out of range: valid values are 0 … 2.",
    }
    w.epoch, w.selected = 1, (2, 3)
    assert w.selected_samples == want
    np.testing.assert_array_equal(w.matrices, expected_matrices(TABLE))


def test_defaults_labels_and_row_numbers():
    df = pd.DataFrame({"label": [3, 1, 1, 7], "pred": [1, 1, 7, 7]})
    src = frame_source(df)
    assert src.labels == ["1", "3", "7"]  # sorted distinct values of both columns
    np.testing.assert_array_equal(src.matrices()[0, 0], [[1, 0, 1], [1, 0, 0], [0, 0, 1]])
    hits = src.cell(0, 0, 0, 2)
    assert src.sample_ids()[hits.positions].tolist() == [2]  # the eager frame's row number
    assert src.epoch_labels == ["epoch 0"] and src.tile_titles == [""]


def test_integer_classes_with_labels():
    df = pl.DataFrame({"label": [0, 1, 2, 2], "pred": [0, 2, 2, 1]})
    by_index = frame_source(df, labels=["a", "b", "c", "d"])  # names: integers are indices
    np.testing.assert_array_equal(
        by_index.matrices()[0, 0], [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    )
    by_value = frame_source(df, labels=[2, 1, 0])  # integer labels: matched by value
    assert by_value.labels == ["2", "1", "0"]
    np.testing.assert_array_equal(by_value.matrices()[0, 0], [[1, 1, 0], [1, 0, 0], [0, 0, 1]])


def test_runs_are_tiles():
    df = pd.concat([TABLE.assign(model="b"), TABLE.assign(model="a", pred=TABLE["label"])])
    src = frame_source(duckdb.from_df(df), confidence="conf", sample_id="sid", epoch="epoch", run="model")
    assert src.tile_titles == ["a", "b"]
    m = src.matrices()
    np.testing.assert_array_equal(m[:, 1], expected_matrices(TABLE))
    np.testing.assert_array_equal(m[:, 0], expected_matrices(TABLE.assign(pred=TABLE["label"])))
    assert src.metrics() == []  # several runs: no single set of metrics
    total, hits = src.cell_page(0, 0, 1, 1, 0, 3)
    want = expected_cell(TABLE.assign(pred=TABLE["label"]), 0, "bee", "bee")
    assert total == len(want) and src.sample_ids()[hits.positions].tolist() == [s for s, _ in want[:3]]


def test_metrics_follow_the_matrix():
    src = frame_source(TABLE, confidence="conf", sample_id="sid", epoch="epoch")
    m = expected_matrices(TABLE)[1]
    rows = src.metrics(1)
    assert [r["label"] for r in rows] == LABELS
    assert rows[2]["recall"] == pytest.approx(m[2, 2] / m[2].sum())
    assert rows[2]["support"] == m[2].sum()


def test_only_small_results_reach_python(monkeypatch):
    """A 300,000-row lazy table: every collected result is the group-by (≤ E·K·K rows)
    or a page; the table itself is never collected."""
    n = 300_000
    i = np.arange(n)
    big = pl.LazyFrame({"sid": i, "label": i % 4, "pred": (i * 7 + i // 5) % 4, "conf": (i % 97) / 97.0})
    sizes: list[int] = []
    real = frames._collect

    def counting(query):
        out = real(query)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(frames, "_collect", counting)
    w = ConfusionWidget.from_dataframe(big, confidence="conf", sample_id="sid")
    exp = np.zeros((4, 4), np.int64)
    np.add.at(exp, (i % 4, (i * 7 + i // 5) % 4), 1)
    np.testing.assert_array_equal(w.matrix, exp)
    msg = {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 1, "col": 2, "offset": 0, "limit": 25}
    (reply, _), *_ = respond(w.source, msg, matrices=w.source.matrices(), revision=0)
    assert reply["total"] == exp[1, 2] and len(reply["samples"]) == 25
    sel = np.flatnonzero((i % 4 == 1) & ((i * 7 + i // 5) % 4 == 2))
    best = sorted(sel, key=lambda j: (-((j % 97) / 97.0), j))[:25]
    assert [s["id"] for s in reply["samples"]] == best
    assert sizes == [16, 64, 0, 25]  # the group-by, ids probed for repeats (none), a page
    assert len(w.source.sample_ids()) == 25  # only the samples shown have positions


def test_images_from_bytes_paths_and_urls(tmp_path):
    def png(value: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(np.full((8, 8), value, np.uint8)).save(buf, format="PNG")
        return buf.getvalue()

    (tmp_path / "imgs").mkdir()
    for j in range(3):
        (tmp_path / "imgs" / f"{j}.png").write_bytes(png(40 * j))
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(png(9))
    paths = [
        "imgs/0.png",
        (tmp_path / "imgs" / "1.png").as_uri(),
        "imgs/2.png",
        str(outside),
        "http://example.com/x.png",
    ]
    df = pd.DataFrame({"label": [0] * 5, "pred": [0] * 5, "p": [0.9, 0.8, 0.7, 0.6, 0.5], "path": paths})
    src = frame_source(df, confidence="p", image="path", image_root=tmp_path)
    _, hits = src.cell_page(0, 0, 0, 0, 0, 5)
    thumbs = [src.images.thumbnail(int(p)) for p in hits.positions]
    for j in range(3):
        assert thumbs[j].error is None and thumbs[j].width == 8
        assert np.asarray(Image.open(io.BytesIO(thumbs[j].data)))[0, 0] == 40 * j
    assert "outside image_root" in thumbs[3].error
    assert "remote URL" in thumbs[4].error
    by_bytes = frame_source(
        pl.DataFrame({"label": ["a", "b"], "pred": ["a", "a"], "img": [png(7), png(200)]}).lazy(),
        sample_id="label",
        image="img",
    )
    msg = {"type": "image", "id": 1, "sample": "b"}  # never shown in a page: fetched from the table
    (reply, buffers), *_ = respond(by_bytes, msg, matrices=by_bytes.matrices(), revision=0)
    assert reply["error"] is None and reply["buffer"] == 0
    assert np.asarray(Image.open(io.BytesIO(buffers[0])))[0, 0] == 200
    (reply, _), *_ = respond(by_bytes, {**msg, "sample": "zz"}, matrices=by_bytes.matrices(), revision=0)
    assert reply["type"] == "error" and "unknown sample id 'zz'" in reply["error"]


def test_from_parquet(tmp_path):
    path = tmp_path / "preds.parquet"
    TABLE.to_parquet(path)
    w = ConfusionWidget.from_parquet(path, confidence="conf", epoch="epoch", labels=LABELS, colormap="greens")
    np.testing.assert_array_equal(w.matrices, expected_matrices(TABLE))
    assert w.epoch == 2 and w.colormap == "greens"  # epoch= names the column; the last is shown
    w.epoch = 1
    w.selected = (0, 0)
    rows = TABLE.reset_index(drop=True)
    sel = rows[(rows["epoch"] == 1) & (rows["label"] == "ant") & (rows["pred"] == "ant")]
    want = sorted(
        sel.index, key=lambda j: (math.isnan(sel.at[j, "conf"]), -np.nan_to_num(sel.at[j, "conf"]), j)
    )
    assert w.selected_samples == want  # the file's row numbers are the ids
    with_ids = parquet_source(str(tmp_path / "*.parquet"), confidence="conf", sample_id="sid", epoch="epoch")
    check_source(with_ids, TABLE)
    with pytest.raises(ValueError, match="sample_id= is needed for several Parquet files"):
        parquet_source(str(tmp_path / "*.parquet"))
    with pytest.raises(FileNotFoundError, match="no Parquet file"):
        parquet_source(tmp_path / "nope.parquet")


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_unknown_column_suggests_close_matches(engine):
    with pytest.raises(
        ValueError, match=r"y_pred='prd' is not a column of the table\. Did you mean 'pred'\?"
    ):
        frame_source(ENGINES[engine](), y_pred="prd", sample_id="sid")
    with pytest.raises(ValueError, match=r"epoch='epoc'.*Did you mean 'epoch'"):
        frame_source(ENGINES[engine](), epoch="epoc", sample_id="sid")


def test_class_values_outside_labels():
    with pytest.raises(
        ValueError,
        match=r"y_true column 'label' holds class values outside labels: 'dog'.*did you mean 'dogs'",
    ):
        frame_source(TABLE, sample_id="sid", epoch="epoch", labels=["ant", "bee", "cat", "dogs"])
    with pytest.raises(
        ValueError,
        match=r"y_pred column 'pred' holds class values outside labels: 5; integers are indices 0 … 2",
    ):
        frame_source(pd.DataFrame({"label": [0, 1], "pred": [0, 5]}), labels=["a", "b", "c"])


def test_mixed_and_missing_class_values():
    mixed = pd.DataFrame({"label": [0, "cat", 1], "pred": [0, 1, 1]})
    with pytest.raises(ValueError, match="y_true column 'label' mixes integers and strings"):
        frame_source(mixed)
    with pytest.raises(
        ValueError, match="y_true column 'label' holds integers but y_pred column 'pred' holds strings"
    ):
        frame_source(pl.DataFrame({"label": [0, 1], "pred": ["a", "b"]}))
    with pytest.raises(ValueError, match="y_pred column 'pred' has missing values"):
        frame_source(pl.DataFrame({"label": ["a", "b"], "pred": ["a", None]}))
    with pytest.raises(ValueError, match="y_true column 'label' holds Float64"):
        frame_source(pl.DataFrame({"label": [0.5, 1.0], "pred": [0, 1]}))


@pytest.mark.parametrize("engine", list(ENGINES))
def test_several_rows_of_a_sample_in_one_epoch_are_refused(engine):
    with pytest.raises(
        ValueError, match=r"sample id 1000 has 3 rows in the table.*name that column with epoch= or run="
    ):
        frame_source(ENGINES[engine](), confidence="conf", sample_id="sid")  # epoch= forgotten
    twice = pd.concat([TABLE, TABLE[TABLE["epoch"] == 1].iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"sample id 1015 has 2 rows in epoch 1: .*run=$"):
        frame_source(engines(twice)[engine](), sample_id="sid", epoch="epoch")


def test_epoch_gaps():
    df = TABLE.assign(epoch=TABLE["epoch"].replace({2: 3}))
    with pytest.raises(ValueError, match=r"epoch column 'epoch' has gaps: epochs 0 … 3 lack 2"):
        frame_source(duckdb.from_df(df), sample_id="sid", epoch="epoch")
    with pytest.raises(ValueError, match="epoch column 'e' holds String"):
        frame_source(TABLE.assign(e="x"), sample_id="sid", epoch="e")


def test_other_bad_input():
    with pytest.raises(TypeError, match="df must be a data frame"):
        frame_source([[0, 1], [1, 1]])
    with pytest.raises(ValueError, match=r"sample_id= is needed for a lazy table \(LazyFrame\)"):
        frame_source(pl.from_pandas(TABLE).lazy())
    with pytest.raises(ValueError, match="y_true and y_pred both name column 'label'"):
        frame_source(TABLE, y_pred="label")
    with pytest.raises(TypeError, match="confidence must be a column name"):
        frame_source(TABLE, confidence=0.5)
    with pytest.raises(TypeError, match="got unexpected keyword argument"):
        ConfusionWidget.from_dataframe(TABLE, bogus=1)


@pytest.mark.parametrize("engine", ["pandas", "polars-lazy", "duckdb"])
def test_string_ids_order_the_same_in_pages_and_whole_cells(engine):
    df = TABLE.assign(sid=[f"s{v:05d}-{'éa'[v % 2]}" for v in TABLE["sid"]])
    src = frame_source(engines(df)[engine](), confidence="conf", sample_id="sid", epoch="epoch")
    for e, r, c in [(0, 0, 0), (2, 3, 3), (1, 0, 2)]:
        hits = src.cell(e, 0, r, c)  # before sample_ids(): it holds the samples seen so far
        whole = src.sample_ids()[hits.positions].tolist()
        rows = df[(df["epoch"] == e) & (df["label"] == LABELS[r]) & (df["pred"] == LABELS[c])]
        brute = sorted(
            zip(rows["sid"], rows["conf"]), key=lambda p: (math.isnan(p[1]), -np.nan_to_num(p[1]), p[0])
        )
        assert len(brute) > 5 and whole == [s for s, _ in brute]
        _, page = src.cell_page(e, 0, r, c, 1, 6)
        assert src.sample_ids()[page.positions].tolist() == whole[1:7]


def test_paths_as_ids_and_images(tmp_path):
    for j in range(2):
        Image.fromarray(np.full((4, 4), 100 * j, np.uint8)).save(tmp_path / f"{j}.png")
    df = pd.DataFrame({"label": [1, 1], "pred": [1, 1], "path": ["0.png", "1.png"]})
    src = frame_source(df, sample_id="path", image="path", image_root=tmp_path)
    total, hits = src.cell_page(0, 0, 0, 0, 0, 25)
    assert total == 2 and src.sample_ids()[hits.positions].tolist() == ["0.png", "1.png"]
    thumb = src.images.thumbnail(int(hits.positions[1]))
    assert np.asarray(Image.open(io.BytesIO(thumb.data)))[0, 0] == 100


def test_empty_tables():
    empty = pl.DataFrame({"label": pl.Series([], dtype=pl.Int64), "pred": pl.Series([], dtype=pl.Int64)})
    src = frame_source(empty, labels=["a", "b"])
    assert src.matrices().shape == (1, 1, 2, 2) and src.matrices().sum() == 0
    assert src.cell_page(0, 0, 0, 0, 0, 25)[0] == 0 and len(src.cell(0, 0, 1, 1)) == 0
    with pytest.raises(ValueError, match="the table has no rows"):
        frame_source(empty)
