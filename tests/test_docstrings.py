"""The examples in the public docstrings run and say what they claim."""

import doctest
import importlib
import pkgutil

import pytest

import confusion_widget

MODULES = sorted(m.name for m in pkgutil.iter_modules(confusion_widget.__path__, "confusion_widget."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
