"""ConfusionRecorder overhead in an eval loop, and RunStore write/read throughput.

- Recorder: 1,000 batches of B = 256, K = 100 through ``update`` (the bare loop's
  time subtracted), compared with the eval step of a tiny CNN on a B = 256 batch of
  8×8 images (torch on one thread: its default two threads stall when the other
  core is busy), and the eval loop's time with / without the recorder. The peer,
  torchmetrics' ``MulticlassConfusionMatrix.update``, alternates with ours epoch by
  epoch. The "floor" row, for scale: a per-batch ``softmax(x).max(1)``.
- Other shapes: B = 32 / 256 with K = 10, B = 256 with K = 1,000, against the same peer.
- Store: N = 100,000 samples × 20 epochs, written one transaction per epoch
  (synchronous=FULL, WAL) and read back as a ``Run``.

Run: ``.venv/bin/python benchmarks/bench_recorder.py`` (about a minute).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table

B, K, N_BATCHES = 256, 100, 1_000
STORE_N, STORE_EPOCHS = 100_000, 20


def _tiny_cnn(k: int):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, k),
    ).eval()


def bench_recorder() -> dict[str, float]:
    import torch

    from confusion_widget import ConfusionRecorder

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    pool = 16  # distinct batches, cycled: 1,000 distinct ones would be 100 MB of logits
    logits = [torch.randn(B, K, generator=gen) for _ in range(pool)]
    class_ids = [x.argmax(1) for x in logits]
    logits_np = [x.numpy() for x in logits]
    targets = [torch.randint(0, K, (B,), generator=gen) for _ in range(pool)]
    ids = [torch.arange(i * B, (i + 1) * B) for i in range(N_BATCHES)]

    def loop(step) -> float:
        t0 = time.perf_counter()
        for i in range(N_BATCHES):
            step(i)
        return (time.perf_counter() - t0) / N_BATCHES

    def bare(i):
        return logits[i % pool], targets[i % pool], ids[i]

    try:  # the peer: torchmetrics' confusion matrix, its argument checks off (fastest)
        from torchmetrics.classification import MulticlassConfusionMatrix

        peer = MulticlassConfusionMatrix(num_classes=K, validate_args=False)
    except ImportError:
        peer = None

    def epoch_of(outputs) -> tuple[float, float]:
        """Seconds per update() (the bare loop subtracted) and end_epoch()'s seconds, in
        a run's second epoch (the first also builds the run)."""
        rec = ConfusionRecorder(K)
        loop(lambda i: rec.update(outputs[i % pool], targets[i % pool], sample_ids=ids[i]))
        rec.end_epoch()
        t = loop(lambda i: rec.update(outputs[i % pool], targets[i % pool], sample_ids=ids[i]))
        t0 = time.perf_counter()
        rec.end_epoch()
        return t - t_bare, time.perf_counter() - t0

    # Ours and the peer alternate, epoch by epoch, so that a burst of load on the
    # shared cores hits both; medians of 7 rounds, and the median of the rounds' ratios.
    t_bare = min(loop(bare) for _ in range(3))
    ours: list[tuple[float, float]] = []
    theirs: list[float] = []
    for _ in range(7):
        ours.append(epoch_of(logits))
        if peer is not None:
            theirs.append(loop(lambda i: peer.update(logits[i % pool], targets[i % pool])) - t_bare)
            peer.reset()
    t_logits = float(np.median([u for u, _ in ours]))
    t_end = float(np.median([e for _, e in ours]))
    t_peer = float(np.median(theirs)) if theirs else float("nan")
    ratio_peer = float(np.median([u / p for (u, _), p in zip(ours, theirs)])) if theirs else float("nan")
    t_ids = float(np.median([epoch_of(class_ids)[0] for _ in range(3)]))
    t_numpy = float(np.median([epoch_of(logits_np)[0] for _ in range(3)]))
    t_floor = min(loop(lambda i: torch.softmax(logits[i % pool], 1).max(1)) for _ in range(3)) - t_bare

    model = _tiny_cnn(K)
    images = torch.rand(B, 1, 8, 8, generator=gen)
    with torch.no_grad():
        t_eval = best_of(lambda: model(images), repeat=5, number=20)

        def eval_loop(with_recorder: bool) -> float:
            """The same eval loop with and without the recorder (its end_epoch
            included), 100 batches."""
            rec = ConfusionRecorder(K)
            t0 = time.perf_counter()
            for i in range(100):
                out = model(images)
                if with_recorder:
                    rec.update(out, targets[i % pool], sample_ids=ids[i])
            if with_recorder:
                rec.end_epoch()
            return time.perf_counter() - t0

        # Alternate the two so that a burst of load on the shared cores hits both.
        ratio = float(np.median([eval_loop(True) / eval_loop(False) for _ in range(9)]))

    rows = [
        ("update(): torch logits", f"{t_logits * 1e6:.1f}", f"{t_logits / t_eval:.2%}"),
        ("torchmetrics MulticlassConfusionMatrix.update", f"{t_peer * 1e6:.1f}", f"{t_peer / t_eval:.2%}"),
        ("  ours / torchmetrics (median of the rounds)", f"{ratio_peer:.2f}×", ""),
        ("update(): torch class ids", f"{t_ids * 1e6:.1f}", f"{t_ids / t_eval:.2%}"),
        ("update(): numpy logits", f"{t_numpy * 1e6:.1f}", f"{t_numpy / t_eval:.2%}"),
        ("floor: softmax(x).max(1)", f"{t_floor * 1e6:.1f}", f"{t_floor / t_eval:.2%}"),
        ("tiny CNN eval step", f"{t_eval * 1e6:.0f}", "100%"),
        (f"end_epoch() ({N_BATCHES * B:,} samples, 2nd epoch)", f"{t_end * 1e3:.1f} ms", ""),
        ("  end_epoch() per batch", f"{t_end / N_BATCHES * 1e6:.1f}", f"{t_end / N_BATCHES / t_eval:.2%}"),
        ("eval loop with / without recorder", f"{ratio:.3f}×", ""),
    ]
    print(f"Recorder, B = {B}, K = {K}, {N_BATCHES:,} batches, torch on 1 thread")
    print(table(rows, ("per batch", "µs", "% of CNN eval")))
    return {
        "update_logits_us": t_logits * 1e6,
        "torchmetrics_update_us": t_peer * 1e6,
        "update_vs_torchmetrics": ratio_peer,
        "update_ids_us": t_ids * 1e6,
        "update_numpy_us": t_numpy * 1e6,
        "cnn_eval_us": t_eval * 1e6,
        "overhead_pct": 100 * t_logits / t_eval,
        "end_epoch_ms": t_end * 1e3,
        "eval_loop_ratio": ratio,
    }


def bench_store() -> dict[str, float]:
    from confusion_widget import RunStore

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, K, STORE_N)
    preds = [
        np.where(rng.random(STORE_N) < 0.5 + e / 50, y_true, rng.integers(0, K, STORE_N))
        for e in range(STORE_EPOCHS)
    ]
    conf = rng.random(STORE_N, dtype=np.float32)
    raw = STORE_N * 12  # int32 true + int32 predicted + float32 confidence
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.db"
        with RunStore(path) as store:
            store.create_run("bench", [str(i) for i in range(K)], np.arange(STORE_N))
            t0 = time.perf_counter()
            for p in preds:
                store.append_epoch("bench", y_true, p, conf)
            t_write = (time.perf_counter() - t0) / STORE_EPOCHS
        size = path.stat().st_size
        with RunStore(path, mode="r") as store:
            t_read = best_of(lambda: store.load("bench"), repeat=3)
            assert store.load("bench").n_epochs == STORE_EPOCHS
    rows = [
        ("write one epoch (1 transaction)", f"{t_write * 1e3:.1f} ms", f"{raw / t_write / 1e6:.0f} MB/s"),
        (
            f"read the run ({STORE_EPOCHS} epochs)",
            f"{t_read * 1e3:.1f} ms",
            f"{raw * STORE_EPOCHS / t_read / 1e6:.0f} MB/s",
        ),
        (
            "file size per epoch",
            f"{size / STORE_EPOCHS / 1e6:.2f} MB",
            f"{size / STORE_EPOCHS / STORE_N:.1f} B/sample",
        ),
    ]
    print(f"\nRunStore, N = {STORE_N:,} samples × {STORE_EPOCHS} epochs")
    print(table(rows, ("operation", "time / size", "rate")))
    return {
        "write_epoch_ms": t_write * 1e3,
        "read_run_ms": t_read * 1e3,
        "bytes_per_epoch": size / STORE_EPOCHS,
    }


def bench_shapes() -> dict[str, float]:
    """update() against torchmetrics' at other batch sizes and class counts (medians
    of 5 alternating epochs, each a run's second); end_epoch's time spread over the
    epoch's batches."""
    import torch

    from confusion_widget import ConfusionRecorder

    try:
        from torchmetrics.classification import MulticlassConfusionMatrix
    except ImportError:
        return {}
    torch.set_num_threads(1)
    rows, out = [], {}
    for b, k, n_batches in [(32, 10, 2000), (256, 10, 1000), (256, 1000, 100)]:
        gen = torch.Generator().manual_seed(0)
        logits = [torch.randn(b, k, generator=gen) for _ in range(8)]
        targets = [torch.randint(0, k, (b,), generator=gen) for _ in range(8)]
        ids = [torch.arange(i * b, (i + 1) * b) for i in range(n_batches)]
        peer = MulticlassConfusionMatrix(num_classes=k, validate_args=False)
        ours, ends, theirs = [], [], []
        for _ in range(5):
            rec = ConfusionRecorder(k)
            for i in range(n_batches):  # the first epoch also builds the run: not timed
                rec.update(logits[i % 8], targets[i % 8], sample_ids=ids[i])
            rec.end_epoch()
            t0 = time.perf_counter()
            for i in range(n_batches):
                rec.update(logits[i % 8], targets[i % 8], sample_ids=ids[i])
            t1 = time.perf_counter()
            rec.end_epoch()
            ends.append((time.perf_counter() - t1) / n_batches)
            ours.append((t1 - t0) / n_batches)
            t0 = time.perf_counter()
            for i in range(n_batches):
                peer.update(logits[i % 8], targets[i % 8])
            theirs.append((time.perf_counter() - t0) / n_batches)
            peer.reset()
        u, e, p = (float(np.median(v)) for v in (ours, ends, theirs))
        rows.append(
            (f"B = {b}, K = {k:,}", f"{u * 1e6:.1f}", f"{e * 1e6:.1f}", f"{p * 1e6:.1f}", f"{u / p:.2f}×")
        )
        out[f"update_vs_torchmetrics_b{b}_k{k}"] = u / p
    print("\nupdate() with logits at other shapes (µs per batch, torch on 1 thread)")
    print(table(rows, ("shape", "update()", "+ end_epoch()", "torchmetrics", "update / torchmetrics")))
    return out


def main() -> dict[str, float]:
    return {**bench_recorder(), **bench_shapes(), **bench_store()}


if __name__ == "__main__":
    main()
