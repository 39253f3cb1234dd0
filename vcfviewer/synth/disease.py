"""Fractures and look-alikes with exact ground truth.

The truth grade must be what the product's morphometry (``core.morphometry``, CLINICAL.md §3)
measures from the landmarks, so this module replicates those rules: height loss =
1 − smallest/reference, reference = max(own Hp, mean of the nearest non-fractured neighbours'
height of the same kind as the smallest); type = crush when smallest/largest ≥ 0.85, otherwise the
smallest height names it. Fractures are then solved for a target loss and every body is checked to
sit at least ``MARGIN`` away from the 20/25/40 % cut-offs, so the truth is never ambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.synth.anatomy import BodyPlan, ColumnPlan
from vcfviewer.synth.options import SynthOptions

MARGIN = 0.015  # distance from any cut-off (points of height loss / 100)
NORMAL_MAX = 0.20 - MARGIN
GRADE_BANDS: dict[int, tuple[float, float]] = {
    1: (0.20 + MARGIN, 0.25 - MARGIN),
    2: (0.25 + MARGIN, 0.40 - MARGIN),
    3: (0.40 + MARGIN, 0.62),
}
SHAPE_KEPT = 0.85  # morphometry: smallest/largest own height ≥ this reads as crush
SHAPE_MARGIN = 0.03
KINDS = ("posterior", "anterior", "middle")  # morphometry's tie order
FRACTURE_WEIGHTS = {"T8": 0.3, "T9": 0.3, "T10": 0.5, "T11": 0.9, "T12": 1.5, "L1": 1.5,
                    "L2": 1.0, "L3": 0.8, "L4": 0.7, "L5": 0.4, "L6": 0.3}
TYPES = ("wedge", "biconcave", "crush")


def heights(body: BodyPlan) -> dict[str, float]:
    return {"anterior": body.ha, "middle": body.hm, "posterior": body.hp}


def _neighbour_means(bodies: Sequence[BodyPlan], i: int, included: set[str]) -> dict[str, float] | None:
    """Mean heights of the nearest included, non-fractured, non-sacral bodies above and below."""
    usable = [j for j, b in enumerate(bodies)
              if b.level in included and not b.is_sacrum and b.grade == 0 and j != i]
    above = [j for j in usable if j < i]
    below = [j for j in usable if j > i]
    picked = ([max(above)] if above else []) + ([min(below)] if below else [])
    if not picked:
        return None
    return {k: float(np.mean([heights(bodies[j])[k] for j in picked])) for k in KINDS}


def measured(bodies: Sequence[BodyPlan], i: int, included: set[str]) -> tuple[float, str, str]:
    """(height loss, smallest kind, measured type) of body ``i`` as morphometry computes them."""
    h = heights(bodies[i])
    smallest_kind = min(KINDS, key=lambda k: h[k])
    reference = h["posterior"]
    means = _neighbour_means(bodies, i, included)
    if means is not None and means[smallest_kind] > reference:
        reference = means[smallest_kind]
    loss = 1.0 - h[smallest_kind] / reference
    if min(h.values()) / max(h.values()) >= SHAPE_KEPT:
        ftype = "crush"
    else:
        ftype = {"posterior": "crush", "anterior": "wedge", "middle": "biconcave"}[smallest_kind]
    return loss, smallest_kind, ftype


def truth_problems(bodies: Sequence[BodyPlan], included: set[str]) -> list[str]:
    """Why the planned truth would be ambiguous or wrong under morphometry ('' list = fine)."""
    problems = []
    for i, body in enumerate(bodies):
        if body.is_sacrum or body.level not in included:
            continue
        loss, _, ftype = measured(bodies, i, included)
        h = sorted(heights(body).values())
        if body.grade == 0:
            if loss > NORMAL_MAX:
                problems.append(f"{body.level}: normal body measures {loss:.3f}")
            continue
        low, high = GRADE_BANDS[body.grade]
        if not low <= loss <= high:
            problems.append(f"{body.level}: grade {body.grade} measures {loss:.3f}")
        if ftype != body.ftype:
            problems.append(f"{body.level}: type {body.ftype} measures {ftype}")
        ratio = h[0] / h[2]
        # a wedge/biconcave type is named by the smallest height, so it must stand clear of the
        # next one; a crush is named by the shape ratio alone
        close = h[1] - h[0] < 0.02 * h[2] and ftype != "crush"
        if abs(ratio - SHAPE_KEPT) < SHAPE_MARGIN or close:
            problems.append(f"{body.level}: type ambiguous (shape {ratio:.3f})")
    return problems


def _solve_fracture(body: BodyPlan, means: dict[str, float] | None) -> BodyPlan:
    """Heights for the body's fracture recipe (grade, type code, λ, shape draws)."""
    assert body.recipe is not None
    _, type_code, lam, r1, r2, r3 = body.recipe
    ftype = TYPES[int(type_code)]
    if ftype == "crush" and means is None:
        ftype = "wedge"  # a crush is only defined against neighbours
    n = means or {k: 0.0 for k in KINDS}
    delta = body.corner_r * (1.0 - 1.0 / math.sqrt(2.0))
    if ftype == "wedge":
        hp = body.hp0 * (0.95 + 0.05 * r1)
        ha = (1.0 - lam) * max(hp, n["anterior"])
        hm = (ha + hp) / 2 + 2 * delta - (0.3 + 0.9 * r2)
        collapse = 1.0 if r3 < 0.75 else (0.0 if r3 < 0.9 else 0.5)
    elif ftype == "biconcave":
        ha = body.ha0 * (0.93 + 0.07 * r1)
        hp = body.hp0 * (0.93 + 0.07 * r2)
        hm = (1.0 - lam) * max(hp, n["middle"])
        collapse = 0.5
    else:
        shape = {"posterior": 1.0, "anterior": 0.97 + 0.11 * r1, "middle": 0.95 + 0.05 * r2}
        kind = min(KINDS, key=lambda k: shape[k])
        hp = (1.0 - lam) * n[kind] / shape[kind]
        ha, hm = hp * shape["anterior"], hp * shape["middle"]
        collapse = 0.3 + 0.5 * r3
    return replace(body, ha=ha, hm=hm, hp=hp, ftype=ftype, collapse=collapse)


def solve_fractures(column: ColumnPlan, included: set[str]) -> ColumnPlan:
    """(Re)solve every planned fracture against the neighbours that are actually in the truth."""
    bodies = list(column.bodies)
    for i, body in enumerate(bodies):
        if body.recipe is not None:
            bodies[i] = _solve_fracture(body, _neighbour_means(bodies, i, included | {body.level}))
    return replace(column, bodies=tuple(bodies))


def _fracture_recipe(rng: np.random.Generator, options: SynthOptions) -> tuple[float, ...]:
    grade = int(rng.choice([1, 2, 3], p=np.asarray(options.grade_weights) / sum(options.grade_weights)))
    type_code = int(rng.choice(3, p=np.asarray(options.type_weights) / sum(options.type_weights)))
    low, high = GRADE_BANDS[grade]
    lam = rng.uniform(low + 0.002, high - 0.002 if grade < 3 else 0.58)
    return (grade, type_code, lam, rng.random(), rng.random(), rng.random())


def _fracture_levels(rng: np.random.Generator, candidates: list[str], options: SynthOptions) -> list[str]:
    if not candidates or rng.random() >= options.fracture_rate:
        return []
    weights = np.array([FRACTURE_WEIGHTS.get(c, 0.3) for c in candidates])
    chosen = [candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]]
    extra = options.multiple_fracture_rate
    while rng.random() < extra and len(chosen) < min(4, len(candidates)):
        idx = candidates.index(chosen[-1])
        adjacent = [c for c in (candidates[max(idx - 1, 0)], candidates[min(idx + 1, len(candidates) - 1)])
                    if c not in chosen]
        rest = [c for c in candidates if c not in chosen]
        pool = adjacent if adjacent and rng.random() < 0.6 else rest
        chosen.append(pool[int(rng.integers(len(pool)))])
        extra = extra * extra
    return chosen


def add_fractures(column: ColumnPlan, rng: np.random.Generator, options: SynthOptions,
                  candidates: list[str]) -> ColumnPlan:
    """Mark fractured levels with their recipe and decided grade (heights solved later)."""
    bodies = list(column.bodies)
    for level in _fracture_levels(rng, candidates, options):
        i = column.index(level)
        recipe = _fracture_recipe(rng, options)
        ftype = TYPES[int(recipe[1])]
        bodies[i] = replace(
            bodies[i], grade=int(recipe[0]), ftype=ftype, recipe=recipe,
            bulge=rng.uniform(0.3, 2.2) if ftype != "biconcave" else rng.uniform(0.0, 0.8),
            irregularity=tuple(rng.normal(0.0, 0.45, 4)),
            irregularity_inf=tuple(rng.normal(0.0, 0.25, 4)),
            concavity_power=rng.uniform(0.9, 2.2),
            top_share=rng.uniform(0.3, 0.7),
        )
    fractured = [i for i, b in enumerate(bodies) if b.grade > 0]
    if fractured and rng.random() < options.cement_rate:
        i = fractured[int(rng.integers(len(fractured)))]
        bodies[i] = replace(bodies[i], cement=True, lookalikes=bodies[i].lookalikes | {"cement"})
    return replace(column, bodies=tuple(bodies))


def _flag(body: BodyPlan, name: str, **changes: object) -> BodyPlan:
    return replace(body, lookalikes=body.lookalikes | {name}, **changes)


def add_lookalikes(column: ColumnPlan, rng: np.random.Generator, options: SynthOptions,
                   candidates: list[str]) -> ColumnPlan:
    """Schmorl's nodes, short bodies, physiological wedging and osteophytes on normal bodies."""
    bodies = list(column.bodies)
    normal = [column.index(c) for c in candidates if bodies[column.index(c)].grade == 0]
    if not normal:
        return column
    if rng.random() < options.schmorl_rate:
        for i in rng.choice(normal, size=min(len(normal), int(rng.integers(1, 3))), replace=False):
            b = bodies[i]
            side = 1 if rng.random() < 0.5 else -1
            node = (side * b.depth * rng.uniform(0.12, 0.3), rng.uniform(4.0, 9.0),
                    rng.uniform(2.0, 5.0), bool(rng.random() < 0.6))
            bodies[i] = _flag(b, "schmorl_node", schmorl=node)
    if rng.random() < options.short_body_rate:
        i = int(rng.choice(normal))
        b = bodies[i]
        f = rng.uniform(0.86, 0.91)
        bodies[i] = _flag(b, "short_body", ha=b.ha * f, hm=b.hm * f, hp=b.hp * f,
                          ha0=b.ha0 * f, hp0=b.hp0 * f)
    wedge_ok = [i for i in normal if bodies[i].level in ("T10", "T11", "T12", "L1")
                and "short_body" not in bodies[i].lookalikes]
    if wedge_ok and rng.random() < options.physiological_wedge_rate:
        i = int(rng.choice(wedge_ok))
        b = bodies[i]
        ratio = rng.uniform(0.83, 0.87)
        mean = b.height
        hp = 2 * mean / (1 + ratio)
        ha = ratio * hp
        delta = b.corner_r * (1.0 - 1.0 / math.sqrt(2.0))
        hm = (ha + hp) / 2 + 2 * delta - rng.uniform(0.4, 1.0)
        bodies[i] = _flag(b, "physiological_wedge", ha=ha, hp=hp, hm=hm, ha0=ha, hp0=hp)
    if rng.random() < options.osteophyte_rate:
        for i in normal:
            if bodies[i].level.startswith("L") or rng.random() < 0.3:
                spurs = (max(0.0, rng.normal(2.0, 1.8)), max(0.0, rng.normal(2.0, 1.8)))
                b = replace(bodies[i], osteophytes=spurs)
                bodies[i] = _flag(b, "osteophyte") if max(spurs) >= 3.0 else b
    return replace(column, bodies=tuple(bodies))


def repair_normals(column: ColumnPlan, included: set[str]) -> ColumnPlan:
    """Lift the smallest height of any normal body that would measure too close to 20 %."""
    bodies = list(column.bodies)
    for _ in range(3):
        changed = False
        for i, body in enumerate(bodies):
            if body.is_sacrum or body.grade != 0 or body.level not in included:
                continue
            loss, kind, _ = measured(bodies, i, included)
            if loss > NORMAL_MAX - 0.01:
                factor = (1.0 - (NORMAL_MAX - 0.02)) / (1.0 - loss)
                key = {"anterior": "ha", "middle": "hm", "posterior": "hp"}[kind]
                new = {key: getattr(body, key) * factor}
                if key in ("ha", "hp"):
                    new[key + "0"] = new[key]
                bodies[i] = replace(body, **new)
                changed = True
        if not changed:
            break
    return replace(column, bodies=tuple(bodies))


def levels_for(top: str, transitional: str | None) -> list[str]:
    """Generated levels cranial → caudal: two above ``top`` down to L5 (+ L6), then S1."""
    order = [lv for lv in _levels.STANDARD_ORDER if lv.startswith(("T", "L"))]
    start = max(order.index(top) - 2, order.index("T7"))
    names = order[start:]
    if transitional == "L6":
        names.append("L6")
    return names + ["S1"]


def draw_transitional(rng: np.random.Generator, options: SynthOptions) -> str | None:
    """Transitional lumbosacral anatomy for one study: None, "L6" or "sacralised_L5"."""
    if rng.random() < options.transitional_rate:
        return "L6" if rng.random() < 0.5 else "sacralised_L5"
    return None


def mark_transitional(column: ColumnPlan, transitional: str | None,
                      rng: np.random.Generator) -> ColumnPlan:
    """Flag the transitional body; a sacralised L5 also gets the narrow disc that fuses it."""
    flagged = {"L6": "L6", "sacralised_L5": "L5"}.get(transitional or "")
    if not flagged:
        return column
    i = column.index(flagged)
    column = column.with_body(i, replace(column.bodies[i], lookalikes=frozenset({"transitional"})))
    if transitional == "sacralised_L5":
        discs = list(column.discs)
        discs[i] = replace(discs[i], anterior=rng.uniform(1.5, 3.5), posterior=rng.uniform(1.2, 2.5))
        column = replace(column, discs=tuple(discs))
    return column
