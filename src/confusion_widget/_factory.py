"""The widget's constructors, made from the functions that build their sources.

``ConfusionWidget.from_predictions = factory(Run.from_predictions, …)``: the
signature and the parameter docs are written once, with the source.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

__all__ = ["factory"]

#: The examples of each constructor (doctested with the widget module).
EXAMPLES = {
    "from_predictions": """
        >>> w = ConfusionWidget.from_predictions([0, 1, 1, 2], [0, 2, 1, 2], labels=["a", "b", "c"])
        >>> w.selected = (1, 2)
        >>> w.selected_samples
        [1]
    """,
    "from_multilabel": """
        >>> w = ConfusionWidget.from_multilabel([[1, 0], [1, 1]], [[0.9, 0.6], [0.8, 0.2]], labels=["a", "b"])
        >>> w.matrix.tolist()
        [[2, 1, 0], [0, 0, 1], [0, 0, 0]]
    """,
    "from_detections": """
        >>> gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
        >>> pred = [{"boxes": [[0, 0, 10, 9]], "labels": [0], "scores": [0.8]}]
        >>> ConfusionWidget.from_detections(gt, pred, labels=["cat", "dog"]).matrix.tolist()
        [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    """,
    "from_store": """
        >>> import tempfile, os
        >>> from confusion_widget import ConfusionRecorder
        >>> path = os.path.join(tempfile.mkdtemp(), "runs.db")
        >>> with ConfusionRecorder(["cat", "dog"], store=path, run="r") as rec:
        ...     rec.update([[2.0, 0.1], [0.3, 1.2]], [0, 0]); _ = rec.end_epoch()
        >>> ConfusionWidget.from_store(path, "r").matrix.tolist()
        [[1, 1], [0, 0]]
    """,
    "from_dataframe": """
        >>> import pandas as pd
        >>> df = pd.DataFrame({"label": ["cat", "dog", "dog"], "pred": ["cat", "cat", "dog"], "p": [0.9, 0.6, 0.8]})
        >>> w = ConfusionWidget.from_dataframe(df, confidence="p")
        >>> w.matrix.tolist()
        [[1, 0], [1, 1]]
        >>> w.selected = (1, 0)
        >>> w.selected_samples
        [1]
    """,
    "from_parquet": """
        >>> import tempfile, os
        >>> import pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "preds.parquet")
        >>> pd.DataFrame({"label": [0, 1, 1], "pred": [0, 0, 1]}).to_parquet(path)
        >>> ConfusionWidget.from_parquet(path, labels=["cat", "dog"]).matrix.tolist()
        [[1, 0], [1, 1]]
    """,
    "compare": """
        >>> from confusion_widget import Run
        >>> a = Run(["x", "y"], [0, 1, 1], [[0, 0, 1]], name="a")
        >>> b = Run(["x", "y"], [0, 1, 1], [[0, 1, 1], [1, 1, 1]], name="b")
        >>> w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
        >>> w.tile_titles
        ['a', 'b', 'b − a']
    """,
    "difference": """
        >>> from confusion_widget import Run
        >>> r = Run(["x", "y"], [0, 1, 1], [[0, 0, 1], [0, 1, 1]])
        >>> ConfusionWidget.difference(r).matrix[2].tolist()    # epoch 1 − epoch 0
        [[0, 0], [-1, 1]]
    """,
}


def _section(doc: str | None, title: str) -> str:
    """One numpydoc section of ``doc`` (its body, dedented), or ``""``."""
    doc = inspect.cleandoc(doc or "")
    m = re.search(rf"^{title}\n-+\n(.*?)(?=^\w[\w ]*\n-+\n|\Z)", doc, re.S | re.M)
    return m.group(1).rstrip() if m else ""


class _Constructor(classmethod):
    """A classmethod that takes the name it is given in the class body."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.__func__.__doc__ = (
            self.__func__.__doc__ or ""
        ) + f"\nExamples\n--------\n{inspect.cleandoc(EXAMPLES[name])}\n"
        self.__func__.__name__ = name
        self.__func__.__qualname__ = f"{owner.__name__}.{name}"
        self.__func__.__module__ = owner.__module__


def factory(build: Callable[..., Any], summary: str) -> Any:
    """A classmethod ``ConfusionWidget.<name>(*args, **kwargs)``: the keyword arguments
    that ``build`` takes go to it, the rest are widget options. The signature and
    the parameter docs are ``build``'s, written once."""
    sig = inspect.signature(build)
    own = {n for n, p in sig.parameters.items() if p.kind is not p.VAR_KEYWORD}

    def construct(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
        source_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in own}
        return cls(build(*args, **source_kw), **kwargs)

    params = [
        inspect.Parameter("cls", inspect.Parameter.POSITIONAL_ONLY),
        *sig.parameters.values(),
        inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD, annotation=Any),
    ]
    construct.__signature__ = sig.replace(parameters=params, return_annotation="ConfusionWidget")  # type: ignore[attr-defined]
    construct.__doc__ = (
        f"{summary}\n\nParameters\n----------\n{_section(build.__doc__, 'Parameters')}\n"
        "**options\n    Widget options (``aggregation``, ``colormap``, ``epoch``, ``order``, …) and the\n"
        "    view arguments ``classes``, ``top_k``, ``hierarchy``, ``label_separator``.\n\n"
        f"See :func:`{build.__module__}.{build.__qualname__}` for the details.\n"
    )
    return _Constructor(construct)
