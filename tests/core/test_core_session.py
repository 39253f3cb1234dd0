"""ReviewSession: every edit is one undo step, marks reader_edited, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.annotation import (
    FractureType, Grade, ImageRef, Lookalike, Proposal, Provenance, StudyAnnotation,
    VertebraFinding,
)
from vcfviewer.core.session import EditError, ReviewSession


def _body(level: str, top: float, fid: str, **kw) -> VertebraFinding:
    pts = [[10, top], [25, top], [40, top], [10, top + 30], [25, top + 30], [40, top + 30]]
    return VertebraFinding(level=level, landmarks=pts, finding_id=fid,
                           fracture_probability=0.1, **kw)


@pytest.fixture()
def session() -> ReviewSession:
    image = ImageRef(path="x.dcm", rows=300, columns=100, pixel_spacing=(1.0, 1.0))
    findings = (_body("T12", 20, "t12"), _body("L1", 60, "l1"), _body("L2", 100, "l2"),
                VertebraFinding("S1", None, finding_id="s1"))
    annotation = StudyAnnotation(image, findings, Provenance("0.1.0", model_id="m", reader=None))
    return ReviewSession(Proposal(annotation))


def _roundtrip(session: ReviewSession, before: StudyAnnotation) -> StudyAnnotation:
    """Undo back to ``before`` and redo; return the redone annotation."""
    after = session.annotation
    assert session.can_undo and session.undo()
    assert session.annotation == before
    assert session.redo()
    assert session.annotation == after
    return after


def test_initial_state_is_the_proposal_clean(session: ReviewSession) -> None:
    assert session.annotation is session.proposal.annotation
    assert not (session.dirty or session.can_undo or session.can_redo)
    assert not session.undo() and not session.redo()


def test_move_landmark_is_one_step_marks_edited_and_remeasures(session: ReviewSession) -> None:
    before = session.annotation
    assert session.measurements.by_level["L1"].ha == 30.0
    session.move_landmark("l1", "inferior_anterior", (10, 84))
    l1 = session.annotation.finding("l1")
    assert l1.reader_edited and l1.landmarks[3].tolist() == [10, 84]
    assert session.measurements.by_level["L1"].ha == 24.0
    assert session.proposal.annotation.finding("l1").landmarks[3].tolist() == [10, 90]
    assert session.dirty
    _roundtrip(session, before)


def test_one_drag_is_one_undo_step(session: ReviewSession) -> None:
    before = session.annotation
    for y in (85, 80, 75):
        session.move_landmark("l1", 3, (10, y), drag_id=7)
    session.end_drag()
    session.move_landmark("l1", 3, (10, 70), drag_id=7)
    assert session.annotation.finding("l1").landmarks[3, 1] == 70
    session.undo()
    assert session.annotation.finding("l1").landmarks[3, 1] == 75
    session.undo()
    assert session.annotation == before


def test_move_clamps_into_the_image_and_refuses_garbage(session: ReviewSession) -> None:
    session.move_landmark("l1", 0, (-5, 1000))
    assert session.annotation.finding("l1").landmarks[0].tolist() == [0, 299]
    for bad in [("l1", 6, (1, 1)), ("l1", "top", (1, 1)), ("l1", 0, (np.nan, 1)),
                ("nope", 0, (1, 1)), ("s1", 0, (1, 1)), ("l1", 0, (1, 2, 3))]:
        before = session.annotation
        with pytest.raises(EditError):
            session.move_landmark(*bad)
        assert session.annotation is before


def test_relabel_and_duplicate_refusal(session: ReviewSession) -> None:
    before = session.annotation
    with pytest.raises(EditError, match="L2 is already taken"):
        session.relabel("l1", "L2")
    with pytest.raises(EditError, match="unknown vertebral level"):
        session.relabel("l1", "Q9")
    assert session.annotation is before and not session.can_undo
    session.relabel("l2", "l3")
    assert session.annotation.by_level("L3").reader_edited
    assert session.annotation.levels == ["T12", "L1", "L3", "S1"]
    _roundtrip(session, before)


def test_renumber_column_moves_every_body_but_the_sacrum(session: ReviewSession) -> None:
    before = session.annotation
    session.renumber_column(-1)
    assert session.annotation.levels == ["T11", "T12", "L1", "S1"]
    assert all(f.reader_edited for f in session.annotation.vertebrae)
    assert not session.annotation.by_level("S1").reader_edited
    assert session.undo_label == "renumber column by -1"
    _roundtrip(session, before)
    with pytest.raises(EditError, match="sacrum"):
        session.renumber_column(+5)  # L1 + 5 would land on S1
    session.renumber_column(0)
    assert session.undo_label == "renumber column by -1"  # a no-op is no step


def test_swap_anterior_posterior_mirrors_every_body_in_one_step(session: ReviewSession) -> None:
    # L1 becomes a grade-2 wedge: Ha = 84 - 60 = 24 mm against Hm = Hp = 30 mm.
    session.move_landmark("l1", "inferior_anterior", (10, 84))
    session.set_grade("l1", 2, FractureType.WEDGE)
    before = session.annotation
    session.swap_anterior_posterior()
    l1 = session.annotation.finding("l1")
    # superior: anterior (10, 60) <-> posterior (40, 60); inferior: (10, 84) <-> (40, 90)
    assert l1.landmarks.tolist() == [[40, 60], [25, 60], [10, 60], [40, 90], [25, 90], [10, 84]]
    m = session.measurements.by_level["L1"]
    assert (m.ha, m.hm, m.hp) == (30.0, 30.0, 24.0)
    assert l1.grade == Grade.MODERATE and l1.fracture_type == FractureType.CRUSH
    assert all(f.reader_edited for f in session.annotation.vertebrae)
    assert not session.annotation.by_level("S1").reader_edited  # no landmarks: untouched
    assert session.undo_label == "swap anterior and posterior"
    _roundtrip(session, before)
    session.swap_anterior_posterior()  # twice is the original film again
    assert session.annotation.finding("l1").landmarks.tolist() == before.finding("l1").landmarks.tolist()
    assert session.annotation.finding("l1").fracture_type == FractureType.WEDGE


def test_name_l6_renames_the_whole_column_in_one_step(session: ReviewSession) -> None:
    # T12, L1, L2 + S1: no body named L5, so L6 cannot be named; renumber first (L2 -> L5).
    with pytest.raises(EditError, match="no body is named L5"):
        session.name_l6()
    session.renumber_column(3)
    assert session.annotation.levels == ["L3", "L4", "L5", "S1"]
    before = session.annotation
    session.name_l6()
    assert session.annotation.levels == ["L4", "L5", "L6", "S1"]
    assert session.undo_label == "name the body above the sacrum L6"
    assert not session.annotation.by_level("S1").reader_edited
    _roundtrip(session, before)
    with pytest.raises(EditError, match="already has an L6"):
        session.name_l6()


def test_set_grade_clear_fracture_and_type_rules(session: ReviewSession) -> None:
    before = session.annotation
    session.set_grade("l1", 2, "wedge")
    l1 = session.annotation.finding("l1")
    assert (l1.grade, l1.fracture_type, l1.fracture_probability) == (2, FractureType.WEDGE, None)
    assert session.measurements.sdi == 2
    graded = _roundtrip(session, before)
    session.clear_fracture("l1")
    assert session.annotation.finding("l1").grade == Grade.NORMAL
    _roundtrip(session, graded)
    with pytest.raises(EditError, match="disagree"):
        session.set_grade("l1", 0, "crush")
    with pytest.raises(EditError, match="give a fracture type"):
        session.set_grade("l1", 1)  # L1 measures normal, so there is no measured type to use
    with pytest.raises(EditError):
        session.set_grade("l1", 7, "wedge")


def test_set_grade_without_type_takes_the_measured_type(session: ReviewSession) -> None:
    session.move_landmark("l1", "inferior_middle", (25, 75))  # Hm 15 of 30: biconcave
    session.set_grade("l1", 3)
    assert session.annotation.finding("l1").fracture_type == FractureType.BICONCAVE


def test_add_and_delete_finding(session: ReviewSession) -> None:
    before = session.annotation
    pts = [[10, 140], [25, 140], [40, 140], [10, 170], [25, 170], [40, 170]]
    fid = session.add_finding("L3", pts)
    added = session.annotation.finding(fid)
    assert added.added_by_reader and added.reader_edited and added.fracture_probability is None
    assert session.measurements.by_id[fid].hp == 30.0
    with_l3 = _roundtrip(session, before)
    with pytest.raises(EditError, match="already taken"):
        session.add_finding("L3", pts)
    with pytest.raises(EditError, match="inside"):
        session.add_finding("L4", [[10, 400]] + pts[1:])
    with pytest.raises(EditError, match="six landmarks"):
        session.add_finding("L4", pts[:5])
    session.delete_finding("l2")
    assert session.annotation.by_level("L2") is None
    _roundtrip(session, with_l3)
    with pytest.raises(EditError, match="no finding"):
        session.delete_finding("l2-gone")


def test_lookalikes_reader_and_accept_all(session: ReviewSession) -> None:
    before = session.annotation
    session.set_lookalikes("l2", ["schmorl_node"])
    assert session.annotation.finding("l2").lookalikes == {Lookalike.SCHMORL_NODE}
    flagged = _roundtrip(session, before)
    with pytest.raises(EditError, match="reader's name"):
        session.accept_all()
    session.set_reader("  Dr Who  ")
    assert session.annotation.provenance.reader == "Dr Who"
    named = _roundtrip(session, flagged)
    assert not session.is_accepted
    session.accept_all()
    assert session.is_accepted and session.annotation.provenance.source == "reader"
    assert not session.annotation.finding("t12").reader_edited  # findings stay as they were
    _roundtrip(session, named)


def test_events_dirty_and_measurement_cache(session: ReviewSession) -> None:
    seen: list[StudyAnnotation] = []
    unsubscribe = session.subscribe(seen.append)
    first = session.measurements
    assert session.measurements is first  # cached per annotation object
    session.set_grade("t12", 1, "crush")
    assert seen[-1] is session.annotation and session.measurements is not first
    assert session.annotation.provenance.modified is not None
    session.mark_saved()
    assert not session.dirty
    session.undo()
    assert session.dirty and len(seen) == 2
    session.redo()
    assert not session.dirty
    unsubscribe()
    session.clear_fracture("t12")
    assert len(seen) == 3


def test_session_can_start_from_a_restored_annotation(session: ReviewSession) -> None:
    restored = session.annotation.with_finding(
        session.annotation.finding("l1").edited(grade=1, fracture_type="wedge"))
    again = ReviewSession(session.proposal, restored)
    assert again.annotation is restored and not again.dirty and not again.can_undo
