"""The cell-source protocol: required members, defaults, capabilities by type, the
shared helpers (bounds checks, epoch names, the lazy cell index, subscribers), and
custom sources as a user would write them."""

import threading
from typing import ClassVar

import numpy as np
import pytest
from pack_decode import decode

from confusion_widget import CellHits, CellSource, ConfusionWidget, HasMetrics, Run
from confusion_widget.sources import CellIndex, Subscribers, check_index, epoch_names


class Huge(CellSource):
    """A custom source whose counts do not fit in int32."""

    labels: ClassVar[list[str]] = ["a", "b"]

    def __init__(self, big=2**31 + 5):
        self.big = big

    @property
    def n_epochs(self):
        return 1

    def matrices(self):
        return np.array([[[[self.big, 1], [2, 3]]]], dtype=np.int64)

    def sample_ids(self):
        return np.zeros(0, np.int64)

    def _cell(self, epoch, tile, row, col):
        return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))


def test_a_source_must_implement_the_required_members():
    class Half(CellSource):
        labels: ClassVar[list[str]] = ["a"]

    with pytest.raises(TypeError, match="abstract"):
        Half()


def test_defaults_of_the_protocol():
    src = Huge()
    assert src.tile_titles == [""] and src.images is None
    assert src.epoch_labels == ["epoch 0"]
    assert not src.has_samples and not isinstance(src, HasMetrics)
    src.subscribe(lambda: None)  # a static source: accepted, never called


def test_counts_beyond_int32_are_widened_never_wrapped():
    w = ConfusionWidget(Huge())
    assert w.matrix.tolist() == [[2**31 + 5, 1], [2, 3]]
    assert decode(w._counts)[1][0].tolist() == [[[2**31 + 5, 1], [2, 3]]]
    assert w._accuracy == [[pytest.approx((2**31 + 8) / (2**31 + 11))]]


def test_a_bare_matrix_beyond_int32_is_shown_exactly():
    w = ConfusionWidget(np.array([[3_000_000_000, 1], [0, 2]]))
    assert w.matrix[0, 0] == 3_000_000_000 and decode(w._counts)[1][0][0, 0, 0] == 3_000_000_000


def test_a_source_with_wrong_matrices_is_refused_clearly():
    class Wrong(Huge):
        def matrices(self):
            return np.zeros((1, 3, 3), np.int64)

    with pytest.raises(ValueError, match=r"Wrong.matrices\(\) must be \(E, T, K, K\)"):
        ConfusionWidget(Wrong())

    class Floats(Huge):
        def matrices(self):
            return np.zeros((1, 1, 2, 2), np.float64)

    with pytest.raises(TypeError, match="integer counts"):
        ConfusionWidget(Floats())


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((0, 0, 2, 0), ValueError, "row 2 is out of range"),
        ((0, 0, 0, -1), ValueError, "col -1 is out of range"),
        ((1, 0, 0, 0), ValueError, "epoch 1 is out of range"),
        ((0, 1, 0, 0), ValueError, "tile 1 is out of range"),
        ((0, 0, 1.5, 0), TypeError, "row must be an integer"),
        ((0, 0, True, 0), TypeError, "row must be an integer"),
    ],
)
def test_every_source_checks_its_bounds(args, exc, match):
    for src in (Huge(), Run(["a", "b"], [0, 1], [[0, 1]])):
        with pytest.raises(exc, match=match):
            src.cell(*args)


def test_check_index_and_epoch_names():
    assert check_index(-1, 3, "epoch", negative=True) == 2
    assert check_index(np.int64(2), 3, "epoch") == 2
    with pytest.raises(ValueError, match=r"epoch 3 is out of range: valid values are -3 … 2"):
        check_index(3, 3, "epoch", negative=True)
    with pytest.raises(ValueError, match=r"epoch -4 is out of range"):
        check_index(-4, 3, "epoch", negative=True)
    assert epoch_names(None, 2) == ["epoch 0", "epoch 1"]
    assert epoch_names(["a", 3], 2) == ["a", "3"]
    with pytest.raises(ValueError, match="epoch_labels has 1 names for 2 epochs"):
        epoch_names(["a"], 2)
    with pytest.raises(TypeError, match="epoch_labels must be a list of names, one per epoch, got str"):
        epoch_names("ab", 2)


def test_cell_index_groups_and_orders_like_a_stable_sort():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 20, 500)
    conf = rng.random(500).astype(np.float32)
    conf[::7] = np.nan
    key = np.where(np.isnan(conf), np.inf, -conf)
    idx = CellIndex(codes, key)
    for c in range(21):
        members = np.flatnonzero(codes == c)
        expected = members[np.argsort(key[members], kind="stable")]
        assert idx[c].tolist() == expected.tolist()
    assert CellIndex(np.zeros(0, np.int64))[0].tolist() == []


def test_a_runs_cell_index_is_built_on_the_first_request_only():
    run = Run.from_predictions(np.arange(1000) % 5, np.arange(1000) % 3)
    assert run._index._values == {}  # building a widget sorts nothing
    ConfusionWidget(run)
    assert run._index._values == {}
    run.cell(0, 0, 1, 1)
    assert list(run._index._values) == [0]


def test_subscribers_added_while_notifying_are_kept():
    subs = Subscribers()
    calls = []
    late = []

    def first():
        calls.append("first")
        subs.add(lambda: late.append(1))  # e.g. a widget made from a training thread

    subs.add(first)
    subs.notify()
    subs.notify()
    assert calls == ["first", "first"] and late == [1]


def test_subscribers_hold_methods_weakly():
    subs = Subscribers()

    class Listener:
        hits = 0

        def on(self):
            Listener.hits += 1

    listener = Listener()
    subs.add(listener.on)
    subs.notify()
    del listener
    subs.notify()
    assert Listener.hits == 1 and subs._refs == []


def test_concurrent_subscribe_and_notify_lose_no_subscriber():
    subs = Subscribers()
    seen = set()
    stop = threading.Event()

    def notifier():
        while not stop.is_set():
            subs.notify()

    t = threading.Thread(target=notifier)
    t.start()
    try:
        for i in range(2000):
            subs.add(lambda i=i: seen.add(i))
    finally:
        stop.set()
        t.join()
    subs.notify()
    assert seen == set(range(2000))


def test_sample_ids_that_do_not_fit_int64_are_refused():
    from confusion_widget.sources import validate_sample_ids

    with pytest.raises(ValueError, match="above 2\\*\\*63 - 1"):
        validate_sample_ids(np.array([1, 2**63 + 1], dtype=np.uint64), 2)
    assert validate_sample_ids(np.array([1, 2], dtype=np.uint64), 2).dtype == np.int64
    with pytest.raises(TypeError, match="mixes integers and strings"):
        validate_sample_ids(np.array([1, "a"], dtype=object), 2)
