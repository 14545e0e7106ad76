"""Callbacks that record a confusion matrix per epoch from training frameworks.

- :mod:`confusion_widget.integrations.lightning` — PyTorch Lightning 2
  (``pip install confusion-widget[lightning]``)
- :mod:`confusion_widget.integrations.keras` — Keras 3, any backend
  (``pip install confusion-widget[keras]``)
- :mod:`confusion_widget.integrations.transformers` — the Hugging Face ``Trainer``
  (``pip install confusion-widget[transformers]``)

Each module imports its framework only when it is imported itself (``import
confusion_widget`` imports none of them), and each ``ConfusionCallback`` drives a
:class:`~confusion_widget.ConfusionRecorder`: the live widget (``cb.widget()``), the
run log (``store=``), ``from_store`` and comparisons work as for a hand-written loop.

>>> from confusion_widget import integrations
>>> integrations.FRAMEWORKS
('keras', 'lightning', 'transformers')
"""

from __future__ import annotations

import importlib
from typing import Any

FRAMEWORKS = ("keras", "lightning", "transformers")


def __getattr__(name: str) -> Any:
    """``integrations.lightning`` etc. without importing the other frameworks."""
    if name in FRAMEWORKS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
