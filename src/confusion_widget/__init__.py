"""confusion-widget: an interactive confusion matrix for Jupyter.

>>> from confusion_widget import ConfusionWidget
>>> w = ConfusionWidget([[5, 1], [2, 7]], labels=["cat", "dog"])
"""

from importlib.metadata import PackageNotFoundError, version

from ._recorder_detection import DetectionRecorder
from ._util import ConfusionWidgetWarning
from .dynamics_view import DynamicsView
from .frames import FrameSource
from .images import ImageProvider, ImageSource
from .matrix import most_confused, normalize, per_class_metrics
from .recorder import ConfusionRecorder
from .runs import Run
from .sources import (
    CellHits,
    CellSource,
    HasImageBoxes,
    HasMetrics,
    HasSampleHistory,
    PagedCells,
    Thresholded,
    TiledComparison,
)
from .store import RunStore
from .widget import ConfusionWidget

try:
    __version__ = version("confusion-widget")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "CellHits",
    "CellSource",
    "ConfusionRecorder",
    "ConfusionWidget",
    "ConfusionWidgetWarning",
    "DetectionRecorder",
    "DynamicsView",
    "FrameSource",
    "HasImageBoxes",
    "HasMetrics",
    "HasSampleHistory",
    "ImageProvider",
    "ImageSource",
    "PagedCells",
    "Run",
    "RunStore",
    "Thresholded",
    "TiledComparison",
    "__version__",
    "most_confused",
    "normalize",
    "per_class_metrics",
]
