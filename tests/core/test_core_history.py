"""The snapshot undo stack: linear undo/redo, drag coalescing, dirty tracking, limit."""

from __future__ import annotations

import pytest

from vcfviewer.core.history import History


def test_undo_redo_walks_the_states_and_a_new_push_drops_the_redo_branch() -> None:
    h = History("a")
    h.push("b", "to b")
    h.push("c", "to c")
    assert (h.current, h.undo_label) == ("c", "to c")
    assert h.undo() == "b" and h.undo() == "a"
    assert not h.can_undo and h.redo_label == "to b"
    with pytest.raises(IndexError):
        h.undo()
    assert h.redo() == "b"
    h.push("d", "to d")
    assert not h.can_redo and len(h) == 3
    assert h.undo() == "b"


def test_pushes_with_the_same_key_coalesce_into_one_step() -> None:
    h = History(0)
    for x in (1, 2, 3):
        h.push(x, "drag", coalesce_key="drag-1")
    assert h.current == 3 and len(h) == 2
    h.push(4, "drag", coalesce_key="drag-2")
    assert len(h) == 3
    assert h.undo() == 3 and h.undo() == 0


def test_coalescing_stops_after_undo_a_plain_push_or_end_coalescing() -> None:
    h = History(0)
    h.push(1, "drag", coalesce_key="k")
    h.end_coalescing()
    h.push(2, "drag", coalesce_key="k")
    assert len(h) == 3
    h.undo()
    h.push(5, "drag", coalesce_key="k")  # the undone step must not be rewritten
    assert len(h) == 3 and h.undo() == 1
    h.redo()
    h.push(6, "plain")
    h.push(7, "drag", coalesce_key="k")
    assert len(h) == 5


def test_dirty_follows_the_saved_state_through_undo_redo_and_coalescing() -> None:
    h = History("a")
    assert not h.dirty
    h.push("b", "b")
    assert h.dirty
    h.mark_saved()
    assert not h.dirty
    h.undo()
    assert h.dirty
    h.redo()
    assert not h.dirty
    h.push("c", "drag", coalesce_key=1)
    h.mark_saved()
    h.push("d", "drag", coalesce_key=1)  # coalesced into the saved entry: now different
    assert h.dirty


def test_limit_drops_the_oldest_steps() -> None:
    h = History(0, limit=3)
    for x in range(1, 6):
        h.push(x, str(x))
    assert len(h) == 4
    assert [h.undo() for _ in range(3)] == [4, 3, 2]
    assert not h.can_undo
    with pytest.raises(ValueError):
        History(0, limit=0)
