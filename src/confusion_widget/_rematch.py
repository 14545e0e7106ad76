"""Re-matching detections at any score and IoU threshold without looping over images.

The greedy rule of :mod:`confusion_widget.matching` (predictions by descending
score, each takes the unmatched ground truth of highest IoU ``>= iou``) is computed
for a whole data set at once:

- Once per epoch (:class:`Candidates`), whatever the thresholds: every prediction's
  *priority* (image, then descending score, then index: the visiting order) and its
  candidate ground-truth boxes (IoU > 0, the same image), best first (highest IoU,
  then lower ground-truth index).
- Per IoU threshold (:meth:`Candidates.match`, cached): the greedy matching of *all*
  predictions, as a proposal algorithm over all images at once. Each free prediction
  proposes to its next candidate with IoU >= the threshold; a ground-truth box keeps
  the proposer of highest priority; displaced and refused predictions propose to
  their next candidate. With one priority order shared by every ground-truth box,
  the outcome is unique and equals serial greedy matching (serial dictatorship),
  and it takes a few vectorised rounds.
- Per score threshold (:meth:`Candidates.entries`): predictions below it are simply
  dropped, because greedy matching visits predictions by descending score: the
  matches of those kept do not depend on those dropped. Ground truth whose match
  was dropped becomes a miss.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .matching import _Image

__all__ = ["Candidates", "MatchEntries"]

_CACHE = 4  # matchings kept per epoch (IoU thresholds seen lately; 8 bytes per prediction each)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from .matching import _iou as iou

    return iou(a, b)


class MatchEntries:
    """The matching outcomes of one epoch at one pair of thresholds, one element
    per matrix +1: ``image`` (local index), ``gt`` and ``pred`` (box index in that
    image, -1: none), ``row``/``col`` (cell), ``score`` (NaN for misses) and ``iou``
    (NaN unless a pair). Predictions come first (visiting order), then misses."""

    __slots__ = ("col", "gt", "image", "iou", "pred", "row", "score")
    col: np.ndarray
    gt: np.ndarray
    image: np.ndarray
    iou: np.ndarray
    pred: np.ndarray
    row: np.ndarray
    score: np.ndarray

    def __init__(self, **arrays: np.ndarray) -> None:
        for k, v in arrays.items():
            setattr(self, k, v)


class Candidates:
    """Threshold-independent data of one epoch's detections (see the module docstring).

    Parameters
    ----------
    gts, preds
        The epoch's validated images (same length).
    n_classes
        ``K``; the background is row/column ``K``.
    """

    def __init__(self, gts: list[_Image], preds: list[_Image], n_classes: int) -> None:
        self.k = n_classes
        g_sizes = np.array([len(g.boxes) for g in gts], dtype=np.int64)
        p_sizes = np.array([len(p.boxes) for p in preds], dtype=np.int64)
        self.g_off = np.cumsum(g_sizes) - g_sizes
        self.p_off = np.cumsum(p_sizes) - p_sizes
        self.n_gt, self.n_pred = int(g_sizes.sum()), int(p_sizes.sum())
        self.g_img = np.repeat(np.arange(len(gts)), g_sizes)
        self.g_labels = np.concatenate([g.labels for g in gts]) if gts else np.zeros(0, np.int64)
        p_img = np.repeat(np.arange(len(preds)), p_sizes)
        p_scores = np.concatenate([p.scores for p in preds]) if preds else np.zeros(0)
        p_labels = np.concatenate([p.labels for p in preds]) if preds else np.zeros(0, np.int64)
        # priority → global prediction index: image, then descending score, then index
        order = np.lexsort((np.arange(self.n_pred), -p_scores, p_img))
        self.order = order
        self.img = p_img[order]
        self.scores = p_scores[order]
        self.labels = p_labels[order]
        self.local = order - self.p_off[self.img]  # box index in its image
        prio_start = np.cumsum(p_sizes) - p_sizes  # an image's predictions are contiguous
        cp: list[np.ndarray] = []
        cg: list[np.ndarray] = []
        ci: list[np.ndarray] = []
        for i, (g, p) in enumerate(zip(gts, preds)):
            if not len(g.boxes) or not len(p.boxes):
                continue
            run = slice(prio_start[i], prio_start[i] + p_sizes[i])
            ious = _iou(p.boxes[self.local[run]], g.boxes)
            r, c = np.nonzero(ious > 0)
            cp.append(r + prio_start[i])
            cg.append(c + self.g_off[i])
            ci.append(ious[r, c])
        prio = np.concatenate(cp) if cp else np.zeros(0, np.int64)
        gt = np.concatenate(cg) if cg else np.zeros(0, np.int64)
        iou = np.concatenate(ci) if ci else np.zeros(0)
        s = np.lexsort((gt, -iou, prio))  # per prediction: highest IoU, then lower gt index
        prio, gt, iou = prio[s], gt[s], iou[s]
        same = self.labels[prio] == self.g_labels[gt]
        # two candidate lists: any class (the matrix) and the same class (COCO's figures)
        self._lists = {
            False: _CandidateList(prio, gt, iou, self.n_pred),
            True: _CandidateList(prio[same], gt[same], iou[same], self.n_pred),
        }
        # COCO's order for the per-class figures: class, descending score, then priority
        self.by_class = np.lexsort((np.arange(self.n_pred), -self.scores, self.labels))
        self.class_bounds = np.searchsorted(self.labels[self.by_class], np.arange(n_classes + 1))
        self._cache: dict[tuple[float, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    # -- matching --------------------------------------------------------------------
    def match(self, iou: float, class_wise: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Greedy matching of every prediction at IoU threshold ``iou``.

        Returns
        -------
        (gt, iou) per priority
            The matched ground truth's global index (-1: none) and the pair's IoU.
        """
        key = (float(iou), bool(class_wise))
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self._lists[key[1]].match(key[0], self.n_gt)
            with self._lock:
                if len(self._cache) >= _CACHE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = hit
        return hit

    def codes(self, iou: float, score: float, class_wise: bool = False) -> np.ndarray:
        """The cell (``row * (K+1) + col``) of every matching outcome, in the order of
        :meth:`entries` (enough for the matrix)."""
        match, _ = self.match(iou, class_wise)
        n_kept = int(np.count_nonzero(self.scores >= score))
        kept = np.flatnonzero(self.scores >= score) if n_kept < self.n_pred else None
        g_of = match if kept is None else match[kept]
        labels = self.labels if kept is None else self.labels[kept]
        k1 = self.k + 1
        matched = np.zeros(self.n_gt, dtype=bool)
        matched[g_of[g_of >= 0]] = True
        row = np.append(self.g_labels, self.k)[g_of]  # -1 → the background row
        return np.concatenate([row * k1 + labels, self.g_labels[~matched] * k1 + self.k])

    def entries(self, iou: float, score: float, class_wise: bool = False) -> MatchEntries:
        """Every matching outcome at ``(iou, score)`` (see :class:`MatchEntries`)."""
        match, pair_iou = self.match(iou, class_wise)
        kept = np.flatnonzero(self.scores >= score)
        g_of = match[kept]
        matched = np.zeros(self.n_gt, dtype=bool)
        matched[g_of[g_of >= 0]] = True
        missed = np.flatnonzero(~matched)
        has_g = g_of >= 0
        k = self.k
        row = np.full(len(kept), k, dtype=np.int64)
        row[has_g] = self.g_labels[g_of[has_g]]
        img = self.img[kept]
        gt_local = np.where(has_g, g_of - self.g_off[img], -1)
        m_img = self.g_img[missed]
        return MatchEntries(
            image=np.concatenate([img, m_img]),
            gt=np.concatenate([gt_local, missed - self.g_off[m_img]]),
            pred=np.concatenate([self.local[kept], np.full(len(missed), -1, dtype=np.int64)]),
            row=np.concatenate([row, self.g_labels[missed]]),
            col=np.concatenate([self.labels[kept], np.full(len(missed), k, dtype=np.int64)]),
            score=np.concatenate([self.scores[kept], np.full(len(missed), np.nan)]).astype(np.float32),
            iou=np.concatenate([pair_iou[kept], np.full(len(missed), np.nan)]),
        )

    def class_figures(self, iou: float, score: float) -> dict[str, np.ndarray]:
        """Per class, COCO's way (class-wise greedy matching at ``iou``, predictions
        scoring ``>= score``): precision (matched / predictions), recall (matched /
        ground truth), AP (101-point interpolated precision over recall, as
        pycocotools; NaN for a class without ground truth) and support."""
        k = self.k
        match, _ = self.match(iou, class_wise=True)
        order, bounds = self.by_class, self.class_bounds
        tp = match[order] >= 0
        kept = self.scores[order] >= score  # a prefix of each class's run
        n_gt = np.bincount(self.g_labels, minlength=k)[:k]
        precision, recall, ap = np.zeros(k), np.zeros(k), np.full(k, np.nan)
        rec_thr = np.linspace(0.0, 1.0, 101)
        for c in range(k):
            lo = bounds[c]
            hi = lo + int(np.count_nonzero(kept[lo : bounds[c + 1]]))
            t = tp[lo:hi]
            tps = np.cumsum(t)
            n_tp = int(tps[-1]) if len(t) else 0
            precision[c] = n_tp / len(t) if len(t) else 0.0
            if not n_gt[c]:
                continue
            recall[c] = n_tp / n_gt[c]
            if not len(t):
                ap[c] = 0.0
                continue
            rc = tps / n_gt[c]
            pr = tps / (np.arange(1, len(t) + 1) + np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1]  # precision envelope
            idx = np.searchsorted(rc, rec_thr, side="left")
            ap[c] = np.where(idx < len(pr), pr[np.minimum(idx, len(pr) - 1)], 0.0).mean()
        return {"precision": precision, "recall": recall, "ap": ap, "support": n_gt}


class _CandidateList:
    """Candidate (prediction, ground truth) pairs sorted by prediction priority then
    preference, with each prediction's run: ``start[p] … start[p] + count[p]``."""

    def __init__(self, prio: np.ndarray, gt: np.ndarray, iou: np.ndarray, n_pred: int) -> None:
        self.gt, self.iou = gt, iou
        counts = np.bincount(prio, minlength=n_pred)
        self.start = np.cumsum(counts) - counts
        self.end = self.start + counts

    def _n_ok(self, iou: float) -> np.ndarray:
        """Per prediction, its candidates with IoU >= ``iou`` (a prefix of its run)."""
        cum = np.zeros(len(self.iou) + 1, dtype=np.int64)
        np.cumsum(self.iou >= iou, out=cum[1:])
        return cum[self.end] - cum[self.start]

    def match(self, iou: float, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
        """The proposal algorithm of the module docstring at IoU threshold ``iou``."""
        n_pred = len(self.start)
        # the candidates with IoU >= iou are a prefix of each run (best first)
        n_ok = self._n_ok(iou)
        ptr = self.start.copy()
        end = self.start + n_ok
        holder = np.full(n_gt, n_pred, dtype=np.int64)  # n_pred: nobody
        match = np.full(n_pred, -1, dtype=np.int64)
        active = np.flatnonzero(n_ok)
        cg = self.gt
        while active.size:
            g = cg[ptr[active]]
            before = holder[g]
            np.minimum.at(holder, g, active)
            won = holder[g] == active
            displaced = before[won]
            displaced = displaced[displaced < n_pred]
            match[active[won]] = g[won]
            match[displaced] = -1
            losers = np.concatenate([active[~won], displaced])
            ptr[losers] += 1
            active = losers[ptr[losers] < end[losers]]
        pair_iou = np.full(n_pred, np.nan, dtype=np.float32)
        has = match >= 0
        pair_iou[has] = self.iou[ptr[has]]
        return match.astype(np.int32), pair_iou
