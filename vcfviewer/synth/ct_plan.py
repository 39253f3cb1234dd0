"""Planning a simulated CT: the column with its disease, its lateral geometry, and the scan range.

The column is the radiograph simulator's (``anatomy``, ``disease``, ``shapes``): world mm with X
posterior (the patient faces LEFT), Y caudal, plus a lateral axis Z towards the patient's LEFT
(LPS +x). Each body has its own lateral centre (a mild scoliotic curve), so its mid-sagittal plane
differs from its neighbours' by a few millimetres.

Truth rule (as for radiographs, in the reformat's rows): a vertebral body is in the truth only when
its six landmarks lie at least ``EDGE_MARGIN_PX`` reformat pixels inside the first and last slice;
on a single plane it must also be cut well inside its lateral extent (``LATERAL_LIMIT`` of its
half-width), otherwise its section is too slim to carry its mid-sagittal landmarks. The sacrum is in
the truth whenever any of its S1 segment is visible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.synth import disease
from vcfviewer.synth.anatomy import ColumnPlan, PlacedBody, place_column, plan_column
from vcfviewer.synth.geometry import EDGE_MARGIN_PX
from vcfviewer.synth.options import SynthOptions
from vcfviewer.synth.shapes import BodyShape, build_shape

CT_TOP_LEVELS: tuple[str, ...] = ("T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2")
# chest CTs start high, abdominal ones at T10–T12: weight the scan's first level accordingly
_TOP_WEIGHTS = np.array([1.0, 0.7, 0.6, 0.6, 0.7, 0.9, 1.6, 1.6, 1.3, 0.8, 0.5])
CT_BOTTOMS: tuple[str, ...] = ("L4", "L5", "S1", "pelvis")
_BOTTOM_WEIGHTS = np.array([0.15, 0.2, 0.25, 0.4])
LATERAL_LIMIT = 0.9
MIN_VERTEBRAE = 3


@dataclass(frozen=True)
class Lateral:
    """Lateral (left-right) geometry of one vertebra in mm; Z grows towards the patient's left."""

    centre: float  # Z of the body's own mid-sagittal plane
    half_width: float  # the body's lateral half-width
    canal: float  # half-width of the spinal canal
    pedicle: float  # |Z − centre| of the pedicle axis
    pedicle_half: float  # lateral half-thickness of a pedicle
    pillar: float  # |Z − centre| of the articular pillar (facets)
    pillar_half: float
    spinous_half: float  # lateral half-thickness of the spinous process
    transverse: float  # |Z − centre| reached by the transverse process (or rib tubercle)


@dataclass(frozen=True)
class ScanRange:
    """The scan along Y: slice centres from ``first`` (superior) every ``slice_mm``; the reformat
    has rows every ``pixel_mm`` from ``first`` down to ``last_row``."""

    first: float
    count: int  # number of axial slices
    slice_mm: float
    pixel_mm: float

    @property
    def last_slice(self) -> float:
        return self.first + _grid(self.count - 1, self.slice_mm)

    @property
    def rows(self) -> int:
        return int(np.floor((self.count - 1) * self.slice_mm / self.pixel_mm + 1e-6)) + 1

    def row_y(self) -> np.ndarray:
        """World Y of every reformat row (superior → inferior)."""
        return self.first + _grid(np.arange(self.rows), self.pixel_mm)

    def slice_y(self) -> np.ndarray:
        """World Y of every axial slice, superior → inferior."""
        return self.first + _grid(np.arange(self.count), self.slice_mm)


def _grid(index: np.ndarray | int, step: float) -> np.ndarray:
    """index·step rounded to 1e-9 mm: a reformat row and the slice it coincides with then get the
    very same float, so truth masks and label volumes agree bit for bit."""
    return np.round(np.asarray(index, dtype=np.float64) * step, 9)


@dataclass(frozen=True)
class PlannedCT:
    column: ColumnPlan
    placed: tuple[PlacedBody, ...]
    shapes: dict[str, BodyShape]
    lateral: dict[str, Lateral]
    scan: ScanRange
    included: tuple[str, ...]  # cranial → caudal, S1 last when visible
    top_level: str
    bottom: str
    transitional: str | None


@dataclass(frozen=True)
class _Draws:
    """Random draws kept fixed while fractures are re-solved against the included bodies."""

    top_margin: float
    bottom_margin: float
    bottom: str
    curve: tuple[float, float, float, float]  # amplitude, frequency, phase, drift
    lateral_u: tuple[tuple[float, ...], ...]


def levels_for_ct(top: str, transitional: str | None) -> list[str]:
    """Generated levels: two above the scan's first level down to L5 (+ L6), then S1."""
    order = [lv for lv in _levels.STANDARD_ORDER if lv.startswith(("T", "L"))]
    names = order[max(order.index(top) - 2, order.index("T2")):]
    return names + (["L6"] if transitional == "L6" else []) + ["S1"]


def _column(rng: np.random.Generator, options: SynthOptions, top: str) -> tuple[ColumnPlan, str | None]:
    """A column from two levels above ``top`` to S1 with look-alikes and planned fractures."""
    transitional = disease.draw_transitional(rng, options)
    levels = levels_for_ct(top, transitional)
    column = disease.mark_transitional(_supine(rng, plan_column(rng, levels)), transitional, rng)
    candidates = levels[levels.index(top) + 1: -1]
    column = disease.add_lookalikes(column, rng, options, candidates)
    column = disease.add_fractures(column, rng, options, candidates)
    return column, transitional


def _supine(rng: np.random.Generator, column: ColumnPlan) -> ColumnPlan:
    """Lying on the table flattens the standing lordosis and the sacral slope."""
    keep = rng.uniform(0.45, 0.8)
    discs = tuple(replace(d, anterior=d.posterior + (d.anterior - d.posterior) * keep)
                  if b.level.startswith("L") and d.anterior > d.posterior else d
                  for d, b in zip(column.discs, column.bodies))
    return replace(column, discs=discs, sacral_slope_deg=column.sacral_slope_deg * rng.uniform(0.7, 0.9),
                   tilt_deg=rng.normal(0.0, 3.0))


def _draws(rng: np.random.Generator, n_bodies: int, curve_mm: float) -> _Draws:
    return _Draws(
        top_margin=rng.uniform(-0.2, 0.8), bottom_margin=rng.uniform(-0.2, 0.8),
        bottom=str(rng.choice(CT_BOTTOMS, p=_BOTTOM_WEIGHTS / _BOTTOM_WEIGHTS.sum())),
        curve=(rng.uniform(0.0, curve_mm), rng.uniform(0.4, 1.4), rng.uniform(0, 2 * np.pi),
               rng.normal(0.0, curve_mm / 3)),
        lateral_u=tuple(tuple(rng.random(6)) for _ in range(n_bodies)))


def _lateral(shapes: dict[str, BodyShape], draws: _Draws) -> dict[str, Lateral]:
    """Per-body lateral geometry: a smooth scoliotic curve and level-typical arch widths."""
    amp, freq, phase, drift = draws.curve
    ys = np.array([s.body.centre[1] for s in shapes.values()])
    t = (ys - ys.min()) / max(float(np.ptp(ys)), 1.0)
    centres = amp * np.sin(np.pi * freq * t + phase) + drift * (t - 0.5)
    centres -= centres.mean()
    out = {}
    for (level, shape), z, u in zip(shapes.items(), centres, draws.lateral_u):
        plan = shape.body.plan
        half = plan.width / 2.0
        lumbar = level.startswith("L") or level == "S1"
        ped_half = (3.0 + 1.5 * u[0]) * (1.0 if lumbar else 0.75)
        pedicle = half * (0.6 + 0.14 * u[1])
        canal = max(pedicle - ped_half, 5.0)
        out[level] = Lateral(
            centre=float(z), half_width=half, canal=canal, pedicle=pedicle, pedicle_half=ped_half,
            pillar=pedicle + 0.1 * plan.depth, pillar_half=3.5 + 2.5 * u[2],
            spinous_half=2.2 + 2.3 * u[3],
            transverse=half + (10.0 + 12.0 * u[4] if lumbar else 6.0 + 8.0 * u[4]))
    return out


def scan_range(shapes: dict[str, BodyShape], top: str, draws: _Draws, pixel_mm: float,
               slice_mm: float) -> ScanRange:
    """From just above (or into) the ``top`` body to the chosen caudal end of the scan."""
    top_shape = shapes[top]
    start = float(top_shape.landmarks_world()[:3, 1].min()) - draws.top_margin * top_shape.body.plan.height
    if draws.bottom in ("L4", "L5") and draws.bottom in shapes:
        low = shapes[draws.bottom]
        end = float(low.landmarks_world()[3:, 1].max()) + draws.bottom_margin * low.body.plan.height
    elif draws.bottom == "S1":
        end = float(shapes["S1"].landmarks_world()[:3, 1].mean()) + 5.0 + 50.0 * (draws.bottom_margin + 0.2)
    else:  # through the pelvis, past the coccyx
        end = float(shapes["S1"].landmarks_world()[:3, 1].mean()) + 90.0 + 120.0 * (draws.bottom_margin + 0.2)
    # the first slice sits on a 0.01 mm grid: DICOM positions then carry it exactly
    first = round(start, 2)
    count = int(np.floor((end - first) / slice_mm)) + 1
    return ScanRange(first=first, count=max(count, 2), slice_mm=slice_mm, pixel_mm=pixel_mm)


def visible_levels(shapes: dict[str, BodyShape], order: list[str], scan: ScanRange,
                   lateral: dict[str, Lateral], plane_z: float | None) -> set[str]:
    """Bodies whose six landmarks lie inside the scan (and, on one plane, that the plane cuts)."""
    margin = EDGE_MARGIN_PX * min(scan.pixel_mm, scan.slice_mm)
    lo, hi = scan.first + margin, scan.first + _grid(scan.rows - 1, scan.pixel_mm) - margin
    out = set()
    for level in order:
        if level == "S1":
            out.add(level)
            continue
        y = shapes[level].landmarks_world()[:, 1]
        if y.min() < lo or y.max() > hi:
            continue
        lat = lateral[level]
        if plane_z is not None and abs(plane_z - lat.centre) > LATERAL_LIMIT * lat.half_width:
            continue
        out.add(level)
    return out


def _contiguous(order: list[str], included: set[str]) -> bool:
    """No gap in the numbered column (a slim off-plane body in the middle would leave one)."""
    idx = [i for i, lv in enumerate(order) if lv in included and lv != "S1"]
    return bool(idx) and idx[-1] - idx[0] + 1 == len(idx)


def plan_ct(rng: np.random.Generator, options: SynthOptions, pixel_mm: float, slice_mm: float,
            curve_mm: float, offset: "OffsetRule | None" = None) -> tuple[PlannedCT, float | None] | None:
    """Column + scan range (+ the plane's Z when ``offset`` is given); None to retry."""
    top = str(rng.choice(CT_TOP_LEVELS, p=_TOP_WEIGHTS / _TOP_WEIGHTS.sum()))
    column, transitional = _column(rng, options, top)
    draws = _draws(rng, len(column.bodies), curve_mm)
    offset_u = rng.random(2)
    order = [b.level for b in column.bodies]
    included = set(order[order.index(top):])
    plane_z = None
    for _ in range(5):
        column = disease.solve_fractures(column, included)
        column = disease.repair_normals(column, included)
        placed = place_column(column)
        shapes = {p.plan.level: build_shape(p) for p in placed}
        lateral = _lateral(shapes, draws)
        scan = scan_range(shapes, top, draws, pixel_mm, slice_mm)
        if offset is not None:
            in_scan = visible_levels(shapes, order, scan, lateral, None)
            plane_z = offset.plane_z(lateral, in_scan, offset_u)
        now = visible_levels(shapes, order, scan, lateral, plane_z)
        if now == included:
            break
        included = now
    else:
        return None
    if (not _contiguous(order, included) or len(included - {"S1"}) < MIN_VERTEBRAE
            or disease.truth_problems(column.bodies, included)):
        return None
    plan = PlannedCT(column=column, placed=tuple(placed), shapes=shapes, lateral=lateral, scan=scan,
                     included=tuple(lv for lv in order if lv in included), top_level=top,
                     bottom=draws.bottom, transitional=transitional)
    return plan, plane_z


@dataclass(frozen=True)
class OffsetRule:
    """Where a single training plane cuts the column.

    ``fixed_mm``: the plane's Z relative to the column's mean midline. Otherwise drawn relative to
    the median half-width of the bodies in the scan: 60 % within ±25 %, 40 % up to ±75 %.
    """

    fixed_mm: float | None = None

    def plane_z(self, lateral: dict[str, Lateral], in_scan: set[str], u: np.ndarray) -> float:
        if self.fixed_mm is not None:
            return float(self.fixed_mm)
        widths = [lateral[lv].half_width for lv in in_scan if lv != "S1"] or [20.0]
        half = float(np.median(widths))
        reach = 0.25 if u[0] < 0.6 else 0.75
        return float((2.0 * u[1] - 1.0) * reach * half)
