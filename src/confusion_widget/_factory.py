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


def _section(doc: str | None, title: str) -> str:
    """One numpydoc section of ``doc`` (its body, dedented), or ``""``."""
    doc = inspect.cleandoc(doc or "")
    m = re.search(rf"^{title}\n-+\n(.*?)(?=^\w[\w ]*\n-+\n|\Z)", doc, re.S | re.M)
    return m.group(1).rstrip() if m else ""


class _Constructor(classmethod):
    """A classmethod that takes the name it is given in the class body."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.__func__.__name__ = name
        self.__func__.__qualname__ = f"{owner.__name__}.{name}"
        self.__func__.__module__ = owner.__module__


def factory(build: Callable[..., Any], summary: str, example: str) -> Any:
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
        "**options\n    Widget options (``aggregation``, ``colormap``, ``epoch``, …).\n\n"
        f"See :func:`{build.__module__}.{build.__qualname__}` for the details.\n\n"
        f"Examples\n--------\n{inspect.cleandoc(example)}\n"
    )
    return _Constructor(construct)
