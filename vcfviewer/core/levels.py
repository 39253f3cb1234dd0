"""Vertebral levels: names, anatomical order, neighbours and whole-column renumbering.

Levels are plain strings ("T12", "L1", "S1") so they serialise as themselves. The order runs
cranial to caudal. T13 and L6 are transitional levels: they exist in the order but are skipped by
the normal numbering, and a column that contains them is flagged for the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

CERVICAL = tuple(f"C{i}" for i in range(1, 8))
THORACIC = tuple(f"T{i}" for i in range(1, 13))
LUMBAR = tuple(f"L{i}" for i in range(1, 6))
SACRUM = "S1"
TRANSITIONAL = ("T13", "L6")

# The standard column, cranial → caudal, used for numbering and renumbering.
STANDARD_ORDER: tuple[str, ...] = CERVICAL + THORACIC + LUMBAR + (SACRUM,)
# Every known name including the transitional ones, in anatomical order.
ALL_LEVELS: tuple[str, ...] = CERVICAL + THORACIC + ("T13",) + LUMBAR + ("L6", SACRUM)
_RANK = {name: i for i, name in enumerate(ALL_LEVELS)}


class LevelError(ValueError):
    """An unknown level name or a renumbering that leaves the known column."""


def validate(level: str) -> str:
    """Return the canonical spelling of ``level`` or raise LevelError."""
    name = level.strip().upper()
    if name not in _RANK:
        raise LevelError(f"unknown vertebral level {level!r}")
    return name


def rank(level: str) -> int:
    """Position cranial → caudal; smaller is higher in the spine."""
    return _RANK[validate(level)]


def sort_levels(levels: Sequence[str]) -> list[str]:
    """Levels ordered cranial → caudal."""
    return sorted(levels, key=rank)


def region(level: str) -> str:
    """'cervical', 'thoracic', 'lumbar' or 'sacrum'."""
    name = validate(level)
    return {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacrum"}[name[0]]


def is_transitional(level: str) -> bool:
    return validate(level) in TRANSITIONAL


def shift(level: str, steps: int) -> str:
    """The level ``steps`` positions caudal (positive) or cranial (negative) in the standard column.

    A transitional level sits half a step below its standard neighbour, so it moves onto the
    standard column: T13 +1 → L1, T13 -1 → T12, L6 -1 → L5. Zero steps returns the level itself.
    """
    name = validate(level)
    if steps == 0:
        return name
    if name in TRANSITIONAL:
        standard_above = {"T13": "T12", "L6": "L5"}[name]
        half = STANDARD_ORDER.index(standard_above) + 0.5
        target = int(half + steps - 0.5) if steps > 0 else int(half + steps + 0.5)
    else:
        target = STANDARD_ORDER.index(name) + steps
    if not 0 <= target < len(STANDARD_ORDER):
        raise LevelError(f"cannot shift {level} by {steps}: outside {STANDARD_ORDER[0]}–{SACRUM}")
    return STANDARD_ORDER[target]


def renumber(levels: Sequence[str], steps: int) -> list[str]:
    """Shift a whole column by ``steps`` (the reader's "renumber up/down" action).

    The sacrum anchors numbering, so S1 never moves; a vertebra that would land on S1 or past it
    raises LevelError rather than silently merging two bodies onto one label.
    """
    out: list[str] = []
    for name in levels:
        if validate(name) == SACRUM:
            out.append(SACRUM)
            continue
        moved = shift(name, steps)
        if moved == SACRUM:
            raise LevelError(f"renumbering {name} by {steps} would collide with the sacrum")
        out.append(moved)
    if len(set(out)) != len(out):
        raise LevelError(f"renumbering by {steps} gives duplicate levels: {out}")
    return out


def with_l6(levels: Sequence[str]) -> list[str]:
    """The column read with a transitional L6: the body named L5 becomes L6 and every other
    vertebra one level lower (L4 → L5, …, T12 → L1); the sacrum stays.

    This is the reader's one action when six lumbar bodies sit above the sacrum (CLINICAL.md §6):
    numbering from the sacrum names them T12–L5, and an ordinary renumbering cannot reach L6.
    """
    names = [validate(name) for name in levels]
    if "L6" in names:
        raise LevelError("the column already has an L6")
    if "L5" not in names:
        raise LevelError("no body is named L5: L6 is the body above the sacrum, numbered L5 first")
    out = [l6_name(n) for n in names]
    if len(set(out)) != len(out):
        raise LevelError(f"naming L6 gives duplicate levels: {out}")
    return out


def l6_name(level: str) -> str:
    """One level's name once the column is read with an L6: L5 → L6, the sacrum stays, every
    other level one lower (T12 → L1). ``with_l6`` applies it to a whole column."""
    name = validate(level)
    return "L6" if name == "L5" else name if name == SACRUM else shift(name, 1)


def number_from_sacrum(count: int, has_sacrum: bool = True) -> list[str]:
    """Names for ``count`` bodies listed cranial → caudal whose lowest sits directly above S1.

    The body above the sacrum is L5; going up: L4 … L1, T12, T11 … (CLINICAL.md §6).
    """
    above = STANDARD_ORDER.index(SACRUM)
    if count > above:
        raise LevelError(f"{count} bodies above the sacrum exceed the known column")
    names = list(STANDARD_ORDER[above - count: above])
    return names + ([SACRUM] if has_sacrum else [])


def neighbours(level: str, present: Sequence[str]) -> tuple[str | None, str | None]:
    """The nearest present levels above and below ``level`` (None at either end)."""
    own = rank(level)
    above = [p for p in present if rank(p) < own]
    below = [p for p in present if rank(p) > own]
    return (max(above, key=rank) if above else None, min(below, key=rank) if below else None)


# A standard level's name inside free text (a model note): T1–T12, L1–L5. The sacrum and the
# transitional names are left alone, so a renaming that produces them is not applied twice.
_LEVEL_TOKEN = re.compile(r"\b(?:T1[0-2]|T[1-9]|L[1-5])\b")


def level_names_in(text: str) -> list[str]:
    """The standard level names ``text`` mentions, in order (what ``rename_in_text`` renames)."""
    return _LEVEL_TOKEN.findall(text)


def rename_in_text(text: str, rename: Callable[[str], str]) -> str:
    """``text`` with every standard level name replaced by ``rename(name)``, in one pass (so a
    renaming L4 → L5 is not applied again to the L5 it made)."""
    return _LEVEL_TOKEN.sub(lambda m: rename(m.group(0)), text)
