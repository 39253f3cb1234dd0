"""Evaluation metrics (numpy only): body matching, Dice, landmark and ratio errors, grades, ROC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import body_heights


@dataclass
class BodyPair:
    """One ground-truth body and the predicted body matched to it (None = missed)."""

    truth: VertebraFinding
    pred: VertebraFinding | None


def match_bodies(truth: StudyAnnotation, pred: StudyAnnotation) -> tuple[list[BodyPair], int]:
    """Greedy nearest-centre matching of vertebral bodies; returns pairs and the number of
    unmatched predictions.

    A prediction matches a truth body when its centre lies within 40 % of the truth body's
    posterior height (the body is ~1 height tall, so this cannot jump to a neighbour).
    """
    pairs, extra = _match(truth, pred)
    return pairs, len(extra)


def column_problems(truth: StudyAnnotation, pred: StudyAnnotation) -> list[str]:
    """Why a film's column is not entirely right, in reading order ([] when it is).

    One phrase per wrong body: "missed L2", "L3 named L4", "extra T11 (no body there)". The
    model card's failure breakdown is built from these, so they name levels the truth's way.
    """
    return _problems(*_match(truth, pred))


def _problems(pairs: list[BodyPair], extra: list[VertebraFinding]) -> list[str]:
    out = []
    for pair in pairs:
        if pair.pred is None:
            out.append(f"missed {pair.truth.level}")
        elif pair.pred.level != pair.truth.level:
            out.append(f"{pair.truth.level} named {pair.pred.level}")
    out += [f"extra {p.level} (no body there)" for p in extra]
    return out


def _match(truth: StudyAnnotation, pred: StudyAnnotation
           ) -> tuple[list[BodyPair], list[VertebraFinding]]:
    gts = list(truth.vertebrae)
    preds = list(pred.vertebrae)
    if not gts:
        return [], preds
    gc = np.array([g.centre() for g in gts])
    pc = np.array([p.centre() for p in preds]).reshape(-1, 2)
    radius = np.array([0.4 * np.hypot(*(g.landmarks[2] - g.landmarks[5])) for g in gts])
    dist = np.linalg.norm(gc[:, None, :] - pc[None, :, :], axis=-1) if len(preds) else np.zeros((len(gts), 0))
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for flat in np.argsort(dist, axis=None):
        gi, pi = np.unravel_index(flat, dist.shape)
        if gi in pairs or pi in used or dist[gi, pi] > radius[gi]:
            continue
        pairs[int(gi)] = int(pi)
        used.add(int(pi))
    out = [BodyPair(g, preds[pairs[i]] if i in pairs else None) for i, g in enumerate(gts)]
    return out, [p for i, p in enumerate(preds) if i not in used]


def truth_facing(annotation: StudyAnnotation) -> str | None:
    """Which way the patient faces in a truth annotation: "left" when the anterior landmarks lie
    left of the posterior ones on most bodies; None without a measured body."""
    votes = [f.landmark("superior_anterior")[0] < f.landmark("superior_posterior")[0]
             for f in annotation.vertebrae if f.landmarks is not None]
    if not votes:
        return None
    return "left" if 2 * sum(votes) > len(votes) else "right"


def dice(a_mask, b_mask) -> float:
    """Dice of two BodyMasks in image coordinates."""
    if a_mask is None or b_mask is None:
        return 0.0
    top, left = min(a_mask.top, b_mask.top), min(a_mask.left, b_mask.left)
    bottom = max(a_mask.top + a_mask.array.shape[0], b_mask.top + b_mask.array.shape[0])
    right = max(a_mask.left + a_mask.array.shape[1], b_mask.left + b_mask.array.shape[1])
    canvas = np.zeros((2, bottom - top, right - left), bool)
    for i, m in enumerate((a_mask, b_mask)):
        canvas[i, m.top - top:m.top - top + m.array.shape[0],
               m.left - left:m.left - left + m.array.shape[1]] = m.array
    total = canvas[0].sum() + canvas[1].sum()
    return float(2 * (canvas[0] & canvas[1]).sum() / total) if total else 0.0


def ratios(points: np.ndarray) -> tuple[float, float]:
    """(Ha/Hp, Hm/Hp) of six landmarks."""
    h = body_heights(points, None)
    return h["anterior"] / h["posterior"], h["middle"] / h["posterior"]


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney with ties); None with one class only."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = scores[labels], scores[~labels]
    if pos.size == 0 or neg.size == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(order.size)
    ranks[order] = np.arange(1, order.size + 1)
    allv = np.concatenate([pos, neg])
    for v in np.unique(allv):  # average ranks over ties
        tie = allv == v
        ranks[tie] = ranks[tie].mean()
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def youden_threshold(scores: np.ndarray, labels: np.ndarray, min_spec: float = 0.0) -> float:
    """Threshold maximising sensitivity + specificity − 1 among those with specificity >=
    ``min_spec`` (midpoint between adjacent scores)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return 0.5
    cands = np.unique(scores)
    mids = np.concatenate([[cands[0] - 1e-6], (cands[:-1] + cands[1:]) / 2, [cands[-1] + 1e-6]])
    best, best_j = 0.5, -1.0
    for t in mids:
        pred = scores >= t
        spec = (~pred[~labels]).mean()
        j = pred[labels].mean() + spec - 1
        if spec >= min_spec and j > best_j:
            best, best_j = float(t), j
    return float(np.clip(best, 0.0, 1.0))


def high_ppv_threshold(scores: np.ndarray, labels: np.ndarray, min_spec: float = 0.99) -> float:
    """Lowest threshold whose specificity reaches ``min_spec`` (screening: few false alarms)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    neg = np.sort(scores[~labels])
    if neg.size == 0:
        return 0.5
    k = int(np.ceil(min_spec * neg.size)) - 1
    return float(np.clip(neg[min(k, neg.size - 1)] + 1e-6, 0.0, 1.0))


def weighted_kappa(a: np.ndarray, b: np.ndarray, classes: int = 4) -> float | None:
    """Quadratic-weighted Cohen's kappa between two integer ratings."""
    a, b = np.asarray(a, int), np.asarray(b, int)
    if a.size == 0:
        return None
    observed = np.zeros((classes, classes))
    np.add.at(observed, (a, b), 1)
    observed /= observed.sum()
    expected = np.outer(observed.sum(1), observed.sum(0))
    i, j = np.mgrid[0:classes, 0:classes]
    w = (i - j) ** 2 / (classes - 1) ** 2
    denom = (w * expected).sum()
    return float(1 - (w * observed).sum() / denom) if denom > 0 else None


@dataclass
class Tally:
    """Accumulates per-body and per-image results over a test set."""

    tp_bodies: int = 0
    missed: int = 0
    false_bodies: int = 0
    level_hits: int = 0
    columns_right: int = 0
    images: int = 0
    # Films without an L6: numbering from the sacrum (CLINICAL §6) flags a sixth lumbar body and
    # leaves the renaming to the reader, so on an L6 film the column is wrong by design.
    columns_right_no_l6: int = 0
    images_no_l6: int = 0
    dices: list = field(default_factory=list)
    lm_err_mm: list = field(default_factory=list)
    lm_err_pct: list = field(default_factory=list)
    ratio_err: list = field(default_factory=list)
    grades: list = field(default_factory=list)  # (truth, pred)
    # (label, prob, detected, image index, called): called is the product's decision, the
    # threshold or the landmarks (``grading.decide_grades``)
    scores: list = field(default_factory=list)
    image_scores: list = field(default_factory=list)  # (label, prob, predicted)
    plane_err: list = field(default_factory=list)  # CT: |predicted − true mid-sagittal plane|
    facing_right: int = 0  # radiographs whose facing the analyser got right
    facing_scored: int = 0  # radiographs with a facing on both sides
    facing_doubted: int = 0  # ... whose proposal carried the "facing uncertain" note
    # Bodies the "outline uncertain" note named: (named, body is good), good = matched with every
    # landmark within 10 % of its height of the truth; extra bodies count as not good.
    outline_doubts: list = field(default_factory=list)
    column_failures: list = field(default_factory=list)  # (image name, [problem, ...])
    # Per column note (summary key → [(noted, column right), ...]): a "two bodies read as one?"
    # note, a tall body read apart.
    column_notes: dict = field(default_factory=dict)
    failure_kinds: dict = field(default_factory=dict)  # failure_kind → wrong columns

    def add(self, truth: StudyAnnotation, pred: StudyAnnotation, spacing: float | None,
            threshold: float, name: str = "", facing: str | None = None,
            doubted: frozenset[str] | None = None,
            column_notes: dict[str, bool] | None = None) -> None:
        """Add one image's comparison (``name`` labels it in ``column_failures``; ``facing``,
        the side the analyser read a radiograph in, is scored against the truth's landmarks;
        ``doubted``, the levels its "outline uncertain" note names, against landmark error;
        ``column_notes``, {summary key: whether it carried that column note}, against its
        column)."""
        pairs, extra = _match(truth, pred)
        if doubted is not None:  # extra bodies are never good ones
            self.outline_doubts += [(p.level in doubted, False) for p in extra]
        self.images += 1
        self.false_bodies += len(extra)
        column_ok = not extra
        for pair in pairs:
            column_ok &= self._add_pair(pair, spacing, threshold, doubted)
        right = column_ok and bool(pairs)
        self.columns_right += int(right)
        for key, noted in (column_notes or {}).items():
            self.column_notes.setdefault(key, []).append((noted, right))
        has_l6 = any(f.level == "L6" for f in truth.findings)
        if not has_l6:
            self.images_no_l6 += 1
            self.columns_right_no_l6 += int(right)
        if not right:
            problems = _problems(pairs, extra) or ["no body in truth"]
            self.column_failures.append((name, problems))
            kind = failure_kind(problems, has_l6)
            self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1
        self._add_facing(truth, pred, facing)
        label = any(f.is_fractured for f in truth.vertebrae)
        probs = [f.fracture_probability or 0.0 for f in pred.vertebrae]
        called = any(f.is_fractured for f in pred.vertebrae)
        self.image_scores.append((label, max(probs) if probs else 0.0, called))

    def _add_facing(self, truth: StudyAnnotation, pred: StudyAnnotation,
                    facing: str | None) -> None:
        side = truth_facing(truth)
        if facing is None or side is None:
            return
        self.facing_scored += 1
        self.facing_right += int(facing == side)
        self.facing_doubted += int(any(f.startswith("facing uncertain") for f in pred.flags))

    def _add_pair(self, pair: BodyPair, spacing: float | None, threshold: float,
                  doubted: frozenset[str] | None = None) -> bool:
        t, p = pair.truth, pair.pred
        if p is None:
            self.missed += 1
            # A missed body counts as "not called" for sensitivity; grades are compared on
            # detected bodies only (detection recall reports the misses).
            self.scores.append((t.is_fractured, 0.0, False, self.images - 1, False))
            return False
        self.tp_bodies += 1
        hit = t.level == p.level
        self.level_hits += int(hit)
        self.dices.append(dice(t.mask, p.mask))
        err = np.linalg.norm(t.landmarks - p.landmarks, axis=1)
        height = np.hypot(*(t.landmarks[2] - t.landmarks[5]))
        self.lm_err_pct.extend(100 * err / height)
        if doubted is not None:
            self.outline_doubts.append((p.level in doubted, bool(err.max() < 0.1 * height)))
        if spacing:
            self.lm_err_mm.extend(err * spacing)
        rt, rp = ratios(t.landmarks), ratios(p.landmarks)
        self.ratio_err.extend(100 * abs(x - y) for x, y in zip(rt, rp))
        self.grades.append((int(t.grade), int(p.grade)))
        prob = p.fracture_probability or 0.0
        self.scores.append((t.is_fractured, prob, True, self.images - 1,
                            prob >= threshold or p.is_fractured))
        if t.plane_index is not None and p.plane_index is not None:
            self.plane_err.append(abs(t.plane_index - p.plane_index))
        return hit

    def summary(self, threshold: float) -> dict:
        """All figures as a JSON-ready dict."""
        found = self.tp_bodies
        labels = np.array([s[0] for s in self.scores], bool)
        probs = np.array([s[1] for s in self.scores], float)
        called = np.array([s[4] for s in self.scores], bool)
        by_landmarks = called & (probs < threshold)  # called, though under the threshold
        g = np.array(self.grades, int).reshape(-1, 2)
        img = np.array(self.image_scores, float).reshape(-1, 3)
        ct = {"mid_plane_error_planes_mean": _mean(self.plane_err),
              "mid_plane_error_planes_median": _median(self.plane_err)} if self.plane_err else {}
        facing = {"facing_accuracy": _ratio(self.facing_right, self.facing_scored),
                  "facing_uncertain_share": _ratio(self.facing_doubted, self.facing_scored),
                  } if self.facing_scored else {}
        return {
            **ct,
            "images": self.images,
            "bodies_truth": found + self.missed,
            "detection_precision": _ratio(found, found + self.false_bodies),
            "detection_recall": _ratio(found, found + self.missed),
            "level_accuracy_per_body": _ratio(self.level_hits, found),
            "whole_column_correct": _ratio(self.columns_right, self.images),
            "whole_column_correct_ci95": wilson_interval(self.columns_right, self.images),
            "whole_column_correct_without_l6": _ratio(self.columns_right_no_l6, self.images_no_l6),
            "whole_column_correct_without_l6_ci95": wilson_interval(self.columns_right_no_l6,
                                                                    self.images_no_l6),
            "dice_mean": _mean(self.dices), "dice_median": _median(self.dices),
            "landmark_error_mm_mean": _mean(self.lm_err_mm),
            "landmark_error_mm_median": _median(self.lm_err_mm),
            "landmark_error_pct_height_mean": _mean(self.lm_err_pct),
            "height_ratio_mae_points": _mean(self.ratio_err),
            "genant_exact": _ratio(int((g[:, 0] == g[:, 1]).sum()), len(g)),
            "genant_within_1": _ratio(int((abs(g[:, 0] - g[:, 1]) <= 1).sum()), len(g)),
            "genant_weighted_kappa_quadratic": weighted_kappa(g[:, 0], g[:, 1]),
            "fracture_threshold": threshold,
            "fracture_body_sensitivity": _ratio(int((called & labels).sum()), int(labels.sum())),
            "fracture_body_sensitivity_ci95": self._body_interval(called & labels, labels),
            "fracture_body_specificity": _ratio(int((~called & ~labels).sum()), int((~labels).sum())),
            "fracture_body_specificity_ci95": self._body_interval(~called & ~labels, ~labels),
            "fracture_body_auroc": auroc(probs, labels),
            "fracture_bodies_positive": int(labels.sum()),
            "fracture_bodies_called_by_landmarks": (f"{int(by_landmarks.sum())} "
                                                    f"({int((by_landmarks & labels).sum())} "
                                                    "fractured)"),
            **_image_rates(img),
            **facing,
            **self._doubt_summary(),
            **self._column_note_summary(),
            **({"wrong_columns_by_kind": dict(sorted(self.failure_kinds.items()))}
               if self.failure_kinds else {}),
        }

    def _body_interval(self, hits: np.ndarray, counted: np.ndarray) -> list[float] | None:
        """95 % interval of a per-body rate, resampling whole films (see ``cluster_interval``)."""
        image = np.array([s[3] for s in self.scores], int)
        per_image = np.bincount(image[hits], minlength=self.images)
        of = np.bincount(image[counted], minlength=self.images)
        return cluster_interval(per_image, of)

    def _doubt_summary(self) -> dict:
        if not self.outline_doubts:
            return {}
        d = np.array(self.outline_doubts, bool).reshape(-1, 2)
        good, poor = d[d[:, 1], 0], d[~d[:, 1], 0]
        return {"outline_uncertain_good_bodies": f"{int(good.sum())}/{len(good)}",
                "outline_uncertain_poor_bodies": f"{int(poor.sum())}/{len(poor)}"}

    def _column_note_summary(self) -> dict:
        """Per column note: images that carried it out of those scored, and how many of the
        noted ones had a wrong column (a note on a right column is a false alarm, a correction
        that leaves the column wrong did not help)."""
        out = {}
        for key, pairs in self.column_notes.items():
            t = np.array(pairs, bool).reshape(-1, 2)
            noted = t[t[:, 0]]
            out[key] = f"{len(noted)}/{len(t)} ({int((~noted[:, 1]).sum())} with a wrong column)"
        return out

def failure_kind(problems: list[str], has_l6: bool) -> str:
    """One word for why a column is wrong, from ``column_problems``' phrases: an L6 film (wrong
    by design, CLINICAL §6), a body missed, one proposed where the truth has none, both, or
    only names moved."""
    if has_l6:
        return "l6_film"
    missed = any(p.startswith("missed ") for p in problems)
    extra = any(p.startswith("extra ") for p in problems)
    return {(True, True): "missed_and_extra", (True, False): "missed_body",
            (False, True): "extra_body"}.get((missed, extra), "misnamed")


def cluster_interval(hits: np.ndarray, counted: np.ndarray, draws: int = 2000,
                     seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % interval of sum(hits) / sum(counted), resampling films.

    ``hits`` and ``counted`` are per-film counts. A film's bodies are not independent draws
    (fractures come in neighbouring runs, one hard film spoils several bodies), so the
    binomial interval over bodies would be too narrow; films are the independent unit."""
    hits, counted = np.asarray(hits, float), np.asarray(counted, float)
    if counted.sum() <= 0:
        return None
    rng = np.random.default_rng(seed)  # fixed: the same data always give the same interval
    picks = rng.integers(0, len(counted), (draws, len(counted)))
    num, den = hits[picks].sum(axis=1), counted[picks].sum(axis=1)
    rates = num[den > 0] / den[den > 0]
    low, high = np.percentile(rates, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def _image_rates(img: np.ndarray) -> dict:
    """Per-image fracture sensitivity and specificity with their 95 % intervals. Images are
    independent draws, so the binomial interval holds for them (bodies of one film are not)."""
    label, called = img[:, 0] > 0, img[:, 2] > 0
    hits, pos = int((called & label).sum()), int(label.sum())
    rejections, neg = int((~called & ~label).sum()), int((~label).sum())
    return {"fracture_image_sensitivity": _ratio(hits, pos),
            "fracture_image_sensitivity_ci95": wilson_interval(hits, pos),
            "fracture_image_specificity": _ratio(rejections, neg),
            "fracture_image_specificity_ci95": wilson_interval(rejections, neg)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


Z95 = 1.959964  # two-sided 95 % normal quantile


def wilson_interval(hits: int, n: int, z: float = Z95) -> list[float] | None:
    """Wilson score interval [low, high] for a proportion ``hits`` / ``n`` (None when n = 0).

    A held-out set of 200 films cannot tell 0.92 from 0.93: the interval says how far a figure
    may move on another draw of the same size. Wilson, not the normal approximation, because
    the figures sit near 1, where the latter runs past it."""
    if n <= 0:
        return None
    p, z2 = hits / n, z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return [round(float(centre - half), 4), round(float(min(1.0, centre + half)), 4)]


def _mean(values: list) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _median(values: list) -> float | None:
    return round(float(np.median(values)), 4) if values else None
