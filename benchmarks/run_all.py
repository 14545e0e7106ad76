"""Run every benchmark script in turn and print its figures (``make bench``)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    "bench_matrix",
    "bench_recorder",
    "bench_compare",
    "bench_multilabel",
    "bench_detection",
    "bench_browser",
    "bench_export",
    "bench_wire",
    "bench_dynamics",
    "bench_dynamics_view",
    "bench_large_k",
    "bench_frames",
    "bench_order",
    "bench_integrations",
]


def main() -> None:
    sys.path.insert(0, str(HERE))
    only = set(sys.argv[1:])
    for name in SCRIPTS:
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        importlib.import_module(name).main()
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
