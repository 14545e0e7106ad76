"""Tables queried in place: ``from_parquet`` on 10,000,000 rows with DuckDB, and the
same file through PySpark in local mode.

Run: ``.venv/bin/python benchmarks/bench_frames.py [--no-spark] [--k 100]`` (about a
minute; writes a ~50 MB Parquet file to a temporary directory and deletes it; ``--k``:
classes, 10 by default).

``save_html`` of the DuckDB widget (25 samples per cell) is timed too: its first pages
come from one windowed query per epoch; the panel's way, cell by cell, is timed on
20 cells and scaled to every non-empty cell.

Targets (DuckDB): the matrix (the widget built: one group-by on true × predicted ×
epoch) ≤ 1 s; a cell's first 25 samples (a ``cell`` request answered through
``wire.respond``: filter, sort by confidence, limit) ≤ 200 ms. PySpark local[2] is
reported, with no target.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import table

from confusion_widget import ConfusionWidget
from confusion_widget.wire import respond

ROWS = 10_000_000
K = int(sys.argv[sys.argv.index("--k") + 1]) if "--k" in sys.argv else 10
MATRIX_TARGET, CELL_TARGET = 1.0, 0.200


def write_parquet(path: str) -> None:
    """Two epochs of 5,000,000 samples, made by DuckDB (no big array in Python)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        COPY (
          SELECT sid, epoch, label, conf,
                 CASE WHEN h % 10 < 7 THEN label ELSE (h % 9 + label + 1) % {K} END AS pred
          FROM (
            SELECT i >> 1 AS sid, i & 1 AS epoch, (i >> 1) % {K} AS label,
                   ((i >> 1) * 2654435761 + (i & 1) * 97) % 1000003 AS h,
                   (((i >> 1) * 40503 + (i & 1) * 7) % 10007) / 10007.0 AS conf
            FROM range({ROWS}) t(i)
          )
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """)
    con.close()


def timed(fn) -> tuple[float, float, object]:
    """Wall time, this process's CPU time (all threads: DuckDB's included), result."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def timings(build, repeat: int = 3, cells: int = 7) -> dict[str, float]:
    """Best matrix time (the whole widget built), and the median and best time of a
    25-sample cell request answered through the wire; CPU times beside them."""
    built = [timed(build) for _ in range(repeat)]
    w: ConfusionWidget = built[-1][2]
    mats = w.source.matrices()
    calls = []
    for i in range(cells):
        msg = {"type": "cell", "id": i, "epoch": 1, "tile": 0, "row": i % K, "col": (i + 1 + i % 9) % K}
        wall, cpu, out = timed(
            lambda msg=msg: list(respond(w.source, {**msg, "limit": 25}, matrices=mats, revision=0))
        )
        reply = out[0][0]
        assert reply["type"] == "cell" and len(reply["samples"]) == 25, reply
        calls.append((wall, cpu))
    best_build = min(built, key=lambda b: b[0])
    best_cell = min(calls)
    return {
        "matrix": best_build[0],
        "matrix_cpu": best_build[1],
        "cell": statistics.median(c[0] for c in calls),
        "cell_best": best_cell[0],
        "cell_cpu": statistics.median(c[1] for c in calls),
    }


def row(name: str, t: dict[str, float]) -> tuple:
    ms = {k: f"{v * 1e3:.0f}" for k, v in t.items()}
    return (name, ms["matrix"], ms["matrix_cpu"], ms["cell"], ms["cell_best"], ms["cell_cpu"])


HEADER = ("engine", "matrix ms (best)", "its CPU ms", "cell 25 ms (median)", "best", "CPU ms (median)")


def bench_save_html(w: ConfusionWidget, tmp: str) -> None:
    out = os.path.join(tmp, "page.html")
    wall, _, _ = timed(lambda: w.save_html(out))
    mats = w.source.matrices()
    cells = [tuple(int(x) for x in c) for c in np.argwhere(mats > 0)]
    sample = cells[:: max(1, len(cells) // 20)][:20]
    one, _, _ = timed(lambda: [w.source.cell_page(*c, 0, 25) for c in sample])
    per_cell = one / len(sample)
    print(
        f"save_html, 25 samples per cell: {wall:.1f} s ({os.path.getsize(out) / 1e6:.1f} MB); "
        f"cell by cell it would take {per_cell * 1e3:.0f} ms × {len(cells):,} cells ≈ {per_cell * len(cells):.0f} s"
    )


def main(spark: bool = True) -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "preds.parquet")
        wall, _, _ = timed(lambda: write_parquet(path))
        size = os.path.getsize(path) / 2**20
        print(f"wrote {ROWS:,} rows ({size:.0f} MiB Parquet) in {wall:.1f} s")

        def duck(**kw):
            return ConfusionWidget.from_parquet(
                path, confidence="conf", epoch="epoch", labels=list(range(K)), **kw
            )

        with_ids = timings(lambda: duck(sample_id="sid"))
        row_ids = timings(duck)
        print(
            table(
                [row("DuckDB, sample_id column", with_ids), row("DuckDB, file row numbers", row_ids)], HEADER
            )
        )
        ok = all(t["matrix"] <= MATRIX_TARGET and t["cell"] <= CELL_TARGET for t in (with_ids, row_ids))
        print(
            f"targets (wall): matrix ≤ {MATRIX_TARGET * 1e3:.0f} ms, first 25 samples ≤ {CELL_TARGET * 1e3:.0f} ms: "
            + ("met" if ok else "NOT MET")
            + f" (load average now {os.getloadavg()[0]:.1f})"
        )

        bench_save_html(duck(sample_id="sid"), tmp)
        if not spark:
            return
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            print("PySpark: not installed (pip install pyspark; needs Java 17)")
            return
        warnings.filterwarnings("ignore", category=FutureWarning)
        start, _, spark = timed(
            lambda: (
                SparkSession.builder.master("local[2]")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .getOrCreate()
            )
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            sdf = spark.read.parquet(path)
            t = timings(
                lambda: ConfusionWidget.from_dataframe(
                    sdf, confidence="conf", sample_id="sid", epoch="epoch", labels=list(range(K))
                ),
                repeat=2,
                cells=3,
            )
        finally:
            spark.stop()
        print(table([row("PySpark local[2]", t)], HEADER))
        print(f"(Spark session start {start:.1f} s; CPU columns count the Python driver only, not the JVM)")


if __name__ == "__main__":
    main(spark="--no-spark" not in sys.argv)
