"""A real distributed engine: PySpark in local mode (one session for this module).

The small table gives the same matrices and cell samples as pandas and DuckDB; a
10,000,000-row table built inside Spark gives numpy's matrices (same formula,
recomputed here), a clicked cell's samples arrive, and the driver never holds the
table: only the group-by's rows and the pages cross, and its memory stays bounded.
"""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest
from test_frames import LABELS, TABLE, engines, expected_cell, expected_matrices

from confusion_widget import ConfusionWidget, frames
from confusion_widget.frames import frame_source
from confusion_widget.wire import respond

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # pyspark on pandas 3
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover - the project's setup installs Java 17
    pytest.skip("PySpark needs Java (apt-get install openjdk-17-jre-headless)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("confusion-widget-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_small_table_matches_the_other_engines(spark):
    import pyarrow as pa

    sdf = spark.createDataFrame(pa.Table.from_pandas(TABLE, preserve_index=False))
    src = frame_source(sdf, confidence="conf", sample_id="sid", epoch="epoch")
    ref = frame_source(engines(TABLE)["duckdb"](), confidence="conf", sample_id="sid", epoch="epoch")
    np.testing.assert_array_equal(src.matrices(), ref.matrices())
    np.testing.assert_array_equal(src.matrices()[:, 0], expected_matrices(TABLE))
    for e, r, c in [(2, 1, 1), (1, 2, 3)]:  # two cells (each query is a Spark job)
        want = expected_cell(TABLE, e, LABELS[r], LABELS[c])
        hits = src.cell(e, 0, r, c)
        assert src.sample_ids()[hits.positions].tolist() == [s for s, _ in want]
        ref_hits = ref.cell(e, 0, r, c)
        np.testing.assert_array_equal(hits.confidence, ref_hits.confidence)
        total, page = src.cell_page(e, 0, r, c, 2, 4)
        assert total == len(want)
        assert src.sample_ids()[page.positions].tolist() == [s for s, _ in want[2:6]]


# -- ten million rows ------------------------------------------------------------------
ROWS, K = 10_000_000, 10


def spark_table(spark):
    """Two epochs of 5,000,000 samples, made inside Spark from the row number."""
    from pyspark.sql import functions as F

    sid = F.shiftright(F.col("id"), 1)
    epoch = F.col("id").bitwiseAND(1)
    df = spark.range(ROWS).select(
        sid.alias("sid"),
        epoch.alias("epoch"),
        (sid % K).alias("label"),
        ((sid * 2654435761 + epoch * 97) % 1000003).alias("h"),
        (((sid * 40503 + epoch * 7) % 10007) / 10007.0).alias("conf"),
    )
    wrong = (F.col("h") % 9 + F.col("label") + 1) % K
    return df.withColumn("pred", F.when(F.col("h") % 10 < 7, F.col("label")).otherwise(wrong))


def numpy_epoch(e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same formula in numpy: (sid, label, pred, conf) of epoch e."""
    sid = np.arange(ROWS // 2, dtype=np.int64)
    label = sid % K
    h = (sid * 2654435761 + e * 97) % 1000003
    pred = np.where(h % 10 < 7, label, (h % 9 + label + 1) % K)
    conf = ((sid * 40503 + e * 7) % 10007) / 10007.0
    return sid, label, pred, conf


class PeakRss:
    """The process's resident memory, sampled every 5 ms while active."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def test_ten_million_rows(spark, monkeypatch):
    sizes: list[int] = []
    real = frames._collect

    def counting(query):
        out = real(query)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(frames, "_collect", counting)
    df = spark_table(spark)
    t0 = time.perf_counter()
    with PeakRss() as mem:
        w = ConfusionWidget.from_dataframe(
            df, confidence="conf", sample_id="sid", epoch="epoch", labels=list(range(K))
        )
        t_matrix = time.perf_counter() - t0
        msg = {"type": "cell", "id": 5, "epoch": 1, "tile": 0, "row": 3, "col": 7, "offset": 0, "limit": 25}
        (reply, _), *_ = respond(w.source, msg, matrices=w.source.matrices(), revision=0)
        w.epoch, w.selected = 0, (2, 4)
        selected = w.selected_samples
    grown = mem.peak - mem.base
    print(f"\n10M rows in Spark: matrix {t_matrix:.1f} s; driver RSS grew {grown / 2**20:.0f} MiB")
    # Only the group-by (E·K·K rows at most), the ids probed for repeats (none), one
    # page and one cell crossed.
    assert sizes[0] <= 2 * K * K and sizes[1:3] == [64, 0]
    assert sizes[3] == 25 and sizes[4] == len(selected)
    assert len(sizes) == 5
    assert grown < 150 * 2**20  # collecting the table would take > 400 MiB

    for e in (0, 1):
        sid, label, pred, conf = numpy_epoch(e)
        exp = np.bincount(label * K + pred, minlength=K * K).reshape(K, K)
        np.testing.assert_array_equal(w.matrices[e], exp)
        if e == 1:
            sel = (label == 3) & (pred == 7)
            order = np.lexsort((sid[sel], -conf[sel]))
            assert reply["total"] == sel.sum()
            assert [s["id"] for s in reply["samples"]] == sid[sel][order[:25]].tolist()
            assert [s["confidence"] for s in reply["samples"]] == pytest.approx(
                conf[sel][order[:25]], abs=1e-6
            )
        else:
            sel = (label == 2) & (pred == 4)
            order = np.lexsort((sid[sel], -conf[sel]))
            assert selected == sid[sel][order].tolist()
