"""Post-processing: instance splitting, the 30 % vote, numbering from the sacrum, flags."""

from __future__ import annotations

import numpy as np
import pytest

from models_filmmaps import bodies_at, box_mask, film_maps, hide_body

from vcfviewer.models.postprocess import (MIN_SOLIDITY, BodyCandidate, body_sized, column_angles,
                                          find_bodies,
                                          find_peaks, gap_notes, merge_stacked, number_levels,
                                          parse_film, solidity, peak_axis, split_instances,
                                          typical_body_size)


def _paint(maps: np.ndarray, rows: slice, cols: slice, cls: int) -> None:
    """Make class ``cls`` certain over a patch of (C, H, W) softmax maps."""
    maps[:, rows, cols] = 0
    maps[cls, rows, cols] = 1.0


def test_numbering_from_sacrum_and_fracture_vote() -> None:
    frac, level, centre = film_maps(6, fractured=(3,), lumbar_from=1)
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5")
    assert [b.fracture_vote for b in parse.bodies] == [0, 0, 0, 1.0, 0, 0]
    assert parse.flags == ()


def test_touching_bodies_are_split_by_centre_peaks() -> None:
    frac, level, centre = film_maps(5, gap=0)  # no disc gap: one blob holding five centres
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert len(parse.bodies) == 5
    assert all(150 <= b.area <= 250 for b in parse.bodies)


def test_lumbar_count_other_than_five_is_flagged_not_forced() -> None:
    frac, level, centre = film_maps(6, lumbar_from=2)  # four lumbar-looking bodies
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert parse.levels[-1] == "L5" and parse.levels[0] == "T12"
    assert any("lumbar count 4" in f for f in parse.flags)


def test_a_film_starting_below_l1_is_not_flagged_for_four_lumbar_bodies() -> None:
    frac, level, centre = film_maps(4, lumbar_from=0)  # L2-L5 above the sacrum, all lumbar-looking
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert parse.levels == ("L2", "L3", "L4", "L5") and parse.flags == ()
    # The same film whose level task calls the top body thoracic disagrees with the numbering.
    frac, level, centre = film_maps(4, lumbar_from=1)
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert any("lumbar count 3, expected 4" in f for f in parse.flags)


def test_without_sacrum_numbering_uses_the_thoracolumbar_junction() -> None:
    frac, level, centre = film_maps(4, lumbar_from=1, sacrum=False)
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert parse.levels == ("T12", "L1", "L2", "L3")
    assert any("sacrum not found" in f for f in parse.flags)


def test_body_cut_at_film_edge_is_dropped() -> None:
    frac, level, centre = film_maps(5)
    frac[:, :12] = 0  # the film starts at row 12: the top body (rows 6-17) keeps half its area
    frac[0, :12] = 1.0
    parse = parse_film(frac, level, centre, (12, 0, 128, 128))
    assert len(parse.bodies) == 4 and any("cut at the film edge" in f for f in parse.flags)
    # A whole body merely touching the border is kept.
    frac, level, centre = film_maps(5)
    parse = parse_film(frac, level, centre, (6, 0, 128, 128))
    assert len(parse.bodies) == 5 and parse.flags == ()


def test_a_crushed_body_fused_with_its_neighbour_is_split_at_its_weak_peak() -> None:
    frac, level, centre = film_maps(6, gap=3)
    # Bodies 2 (crushed: rows 36-41) and 3 (rows 51-62) fuse through rows 42-50; the crushed
    # body's centre peak is weak (0.25, under the 0.3 every other peak must reach).
    frac[:, 36:51, 50:66] = 0
    frac[2, 36:51, 50:66] = 1.0
    frac[0, 42:51, 50:66] = 0  # no disc gap left
    centre[36 + 6, 58] = 0.0
    centre[39, 58] = 0.25
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert len(parse.bodies) == 6
    # The same weak maximum inside a body of ordinary size is a doubled peak, not a body.
    frac, level, centre = film_maps(6, gap=3)
    centre[10, 58] = 0.25
    assert len(parse_film(frac, level, centre, (0, 0, 128, 128)).bodies) == 6


def test_a_vertebra_plana_fused_with_its_neighbour_is_found_at_a_faint_peak() -> None:
    # Body 2 is crushed flat (rows 47-50, 4 px) and fused with body 3 (rows 51-62): one
    # component of 16 x 16 = 256 px, 1.33x a typical body (12 x 16 = 192), with the flat body's
    # centre peak at 0.09 (as measured on simulated films), 9 px above body 3's peak at row 57.
    frac, level, centre = film_maps(6, gap=3)
    _paint(frac, slice(36, 47), slice(50, 66), 0)
    _paint(frac, slice(47, 51), slice(50, 66), 2)
    centre[42, 58] = 0.0
    centre[48, 58] = 0.09
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert len(parse.bodies) == 6 and parse.levels[0] == "T12"
    # A peak under the 0.08 floor is noise: the flat body stays part of its neighbour.
    centre[48, 58] = 0.05
    assert len(parse_film(frac, level, centre, (0, 0, 128, 128)).bodies) == 5


def test_a_body_another_exposure_shows_joins_the_column() -> None:
    shown = film_maps(6, lumbar_from=1)
    hidden = hide_body(*shown)
    assert len(parse_film(*hidden, (0, 0, 128, 128)).bodies) == 5
    parse = parse_film(*hidden, (0, 0, 128, 128), exposures=[shown])
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5") and parse.flags == ()


def test_another_exposure_adds_no_ragged_blob_and_nothing_far_from_the_column() -> None:
    shown = film_maps(6, lumbar_from=1)
    hidden = hide_body(*shown)
    ragged = tuple(m.copy() for m in shown)
    ragged[0][:, 6:18, 50:66] = 0
    ragged[0][0, 6:18, 50:66] = 1.0
    ragged[0][:, 6:18, 50:55] = 0  # an L-shaped blob (a rib crossing a lung field), not a box
    ragged[0][2, 6:18, 50:55] = 1.0
    ragged[0][:, 13:18, 50:66] = 0
    ragged[0][2, 13:18, 50:66] = 1.0
    blob = find_bodies(*ragged, (0, 0, 128, 128))[0][0].mask
    assert solidity(blob) < MIN_SOLIDITY
    assert len(parse_film(*hidden, (0, 0, 128, 128), exposures=[ragged]).bodies) == 5
    # A whole body four spacings to the side of the column is not its next body.
    far = tuple(m.copy() for m in hidden)
    far[0][:, 40:52, 100:116] = 0
    far[0][2, 40:52, 100:116] = 1.0
    far[2][46, 108] = 1.0
    assert len(parse_film(*hidden, (0, 0, 128, 128), exposures=[far]).bodies) == 5


def test_a_body_found_inside_the_sacrum_takes_its_pixels() -> None:
    # This exposure read the last body and the sacrum as one sacrum; another separates them.
    shown = film_maps(5, lumbar_from=0)
    merged = tuple(m.copy() for m in shown)
    merged[0][:, 66:81, 50:66] = 0
    merged[0][3, 66:81, 50:66] = 1.0  # the fifth body (rows 66-77) and its disc read as sacrum
    merged[2][72, 58] = 0.0
    parse = parse_film(*merged, (0, 0, 128, 128), exposures=[shown])
    assert len(parse.bodies) == 5 and parse.levels[-1] == "L5"
    assert not (parse.sacrum & parse.bodies[-1].mask).any()
    assert parse.sacrum[81:95].any()  # the sacrum below keeps its own pixels


def test_a_body_with_two_maxima_side_by_side_stays_one_body() -> None:
    frac, level, centre = film_maps(5, gap=3)
    # Body 2 (rows 36-47) shows two maxima 11 px apart across it (a tilted or crushed body):
    # farther apart than the peak rule merges, but the component is one body's area.
    centre[42, 58] = 0.0
    centre[42, 52] = centre[42, 63] = 0.9
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert len(parse.bodies) == 5 and all(150 <= b.area <= 250 for b in parse.bodies)
    # The rule itself: a component under ``min_area`` is not divided between its peaks, one of
    # twice a body's area is (neighbours touching without a disc gap).
    one = np.zeros((40, 40), bool)
    one[10:22, 10:26] = True
    peaks = np.array([[12.0, 16.0], [23.0, 16.0]])
    assert len(split_instances(one, peaks)) == 2
    assert len(split_instances(one, peaks, min_area=1.3 * 192)) == 1
    two = np.zeros((40, 40), bool)
    two[4:28, 10:26] = True
    assert len(split_instances(two, np.array([[18.0, 10.0], [18.0, 22.0]]), 1.3 * 192)) == 2


def test_two_small_bodies_stacked_along_the_column_are_split() -> None:
    # CT: upper thoracic bodies are far smaller than the film's typical body, so two of them
    # joined across a thin disc (here rows 4-27, 16 wide: 384 px) make less than min_area (500).
    joined = np.zeros((40, 40), bool)
    joined[4:28, 10:26] = True
    stacked = [[18.0, 10.0], [18.0, 22.0]]  # 12 px apart along the vertical column, 0 across
    side = [[12.0, 16.0], [23.0, 16.0]]  # 11 px apart across the column, 0 along
    vertical = np.array([0.0, 1.0])
    assert len(split_instances(joined, np.array(stacked), 500, vertical)) == 2
    assert len(split_instances(joined, np.array(side), 500, vertical)) == 1
    assert len(split_instances(joined, np.array(stacked), 500)) == 1  # no axis: one body
    # Peaks 3 along and 4 across: side by side (|3| < |4|); 4 along and 3 across: stacked.
    assert len(split_instances(joined, np.array([[14.0, 14.0], [18.0, 17.0]]), 500, vertical)) == 1
    assert len(split_instances(joined, np.array([[15.0, 12.0], [18.0, 16.0]]), 500, vertical)) == 2


def test_peak_axis_is_the_principal_direction_of_the_centres() -> None:
    assert peak_axis(np.array([[0.0, 0.0], [10.0, 0.0]])) is None  # two points: no column
    axis = peak_axis(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [9.0, 12.0]]))
    assert np.allclose(np.abs(axis), [0.6, 0.8])  # the 3-4-5 direction, either sign


def test_two_peaks_inside_one_body_do_not_split_it() -> None:
    frac, level, centre = film_maps(5, gap=3)
    centre[8, 58] = 0.9  # a second maximum 4 px from the first body's centre (bodies 15 apart)
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert len(parse.bodies) == 5


def test_split_and_peaks_primitives() -> None:
    body = np.zeros((20, 20), bool)
    body[2:18, 5:15] = True
    heat = np.zeros((20, 20), np.float32)
    heat[5, 10] = heat[14, 10] = 0.9
    peaks = find_peaks(heat)
    assert peaks.tolist() == [[10.0, 5.0], [10.0, 14.0]]
    parts = split_instances(body, peaks)
    assert sorted(p.sum() for p in parts) == [80, 80]


def test_column_angles_follow_neighbours() -> None:
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]])
    assert np.allclose(column_angles(centres), np.pi / 4)
    assert column_angles(np.array([[3.0, 4.0]])).tolist() == [0.0]


def test_number_levels_empty() -> None:
    parse = number_levels([], None)
    assert parse.bodies == () and parse.levels == ()


def test_merge_stacked_joins_the_two_halves_of_one_body() -> None:
    # Bodies 15 px apart along the column; the third is split left/right (same height).
    masks = [box_mask(slice(y, y + 12), slice(50, 66)) for y in (6, 21)]
    masks += [box_mask(slice(36, 48), slice(50, 58)), box_mask(slice(36, 48), slice(58, 66))]
    masks += [box_mask(slice(y, y + 12), slice(50, 66)) for y in (51, 66)]
    merged = merge_stacked(masks)
    assert len(merged) == 5
    assert merged[2].sum() == 12 * 16  # both halves, one body


def test_merge_stacked_keeps_a_crushed_body_between_its_neighbours() -> None:
    # A grade 3 body (5 px tall) between normal ones: 11.5 px from each neighbour's centre along
    # the column, against a typical spacing of 15: well above the 0.45 cut, so it stays.
    masks = [box_mask(slice(y, y + 12), slice(50, 66)) for y in (6, 21)]
    masks += [box_mask(slice(36, 41), slice(50, 66))]
    masks += [box_mask(slice(y, y + 12), slice(50, 66)) for y in (44, 59)]
    assert len(merge_stacked(masks)) == 5


def test_a_gap_much_wider_than_the_spacing_around_it_is_named() -> None:
    names = ["T12", "L1", "L2", "L3", "L4", "L5"]
    # Gaps 20, 20, 30, 20, 20: the L2-L3 gap against the median of 20, 20, 20, 20 is 1.5x.
    notes = gap_notes(bodies_at([0, 20, 40, 70, 90, 110]), names)
    assert len(notes) == 1 and notes[0].startswith("gap between L2 and L3 is 1.5x")
    # 26 / 20 = 1.3x, under the 1.4 factor; and three bodies are too few to judge.
    assert gap_notes(bodies_at([0, 20, 40, 66, 86, 106]), names) == []
    assert gap_notes(bodies_at([0, 20, 60]), names[:3]) == []


def test_gaps_are_judged_against_their_neighbours_not_the_whole_column() -> None:
    # Small thoracic bodies (six gaps of 10) above large lumbar ones (three of 20): 20 is twice
    # the whole column's median, but the first lumbar gap against 10, 10, 20, 20 is 1.33x.
    ys = [0, 10, 20, 30, 40, 50, 60, 80, 100, 120]
    assert gap_notes(bodies_at(ys), [f"B{i}" for i in range(len(ys))]) == []


def test_numbering_names_a_wide_gap_in_the_study_notes() -> None:
    sacrum = box_mask(slice(124, 128), slice(40, 60))
    parse = number_levels(bodies_at([0, 20, 40, 70, 90, 110]), sacrum)
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5")  # the numbering is left alone
    assert any(f.startswith("gap between L2 and L3") for f in parse.flags)


def _placed(points: list[tuple[float, float]], side: int = 10) -> list[BodyCandidate]:
    """Bodies of side x side pixels centred at these (x, y) points (area side², size = side)."""
    out = []
    for x, y in points:
        mask = box_mask(slice(int(y) - side // 2, int(y) + side // 2),
                    slice(int(x) - side // 2, int(x) + side // 2), size=256)
        out.append(BodyCandidate(mask=mask, centre=np.array([x, y]), fracture_vote=0.0,
                                 fracture_score=0.0, lumbar_vote=1.0, touches_edge=False))
    return out


def test_chord_offsets_hand_computed() -> None:
    from vcfviewer.models.postprocess import chord_offsets

    # The middle point (3, 4) against the chord from (0, 0) to (0, 8): 3 px to the side. The
    # 3-4-5 triangle on a slanted chord from (0, 0) to (8, 6): |8·4 − 6·3| / 10 = 1.4.
    assert chord_offsets(np.array([[0, 0], [3, 4], [0, 8.0]])).tolist() == [0.0, 3.0, 0.0]
    assert np.isclose(chord_offsets(np.array([[0, 0], [3, 4], [8, 6.0]]))[1], 1.4)


def test_a_blob_off_the_column_axis_is_not_numbered() -> None:
    from vcfviewer.models.postprocess import OFF_AXIS_FACTOR, drop_off_axis

    column = [(100, 20), (102, 40), (104, 60), (106, 80), (108, 100)]
    # A rib crossing beside the column between the 2nd and 3rd bodies, ordered between them:
    # off the chord from (102, 40) to (104, 60) by |2·10 − 20·30| / |(2, 20)| = 580 / 20.1
    # = 28.9 px against 1.4 x 10 = 14.
    rib = (132, 50)
    bodies = _placed(column + [rib])
    kept = drop_off_axis(bodies)
    assert [tuple(b.centre) for b in kept] == column
    # A listhesis-like step of 10 px (1.0 x the body size, under OFF_AXIS_FACTOR) stays.
    stepped = [(100, 20), (102, 40), (112, 60), (106, 80), (108, 100)]
    assert 10 / 10 < OFF_AXIS_FACTOR
    assert len(drop_off_axis(_placed(stepped))) == 5
    # The ends are not judged (their axis would be extrapolated): a top body 30 px aside stays.
    assert len(drop_off_axis(_placed([(130, 20)] + column[1:]))) == 5


def test_numbering_skips_a_blob_beside_the_column(monkeypatch) -> None:
    from vcfviewer.models import postprocess

    frac, level, centre = film_maps(6, lumbar_from=1)
    # A body-shaped blob beside the column, level with the disc between the 3rd and 4th bodies.
    # 28 px from the column's axis: near enough not to count as isolated (2.5 x 13.9 px), too
    # far off the chord (1.4 x 13.9 = 19.4 px) to be a vertebra.
    _paint(frac, slice(47, 57), slice(80, 92), 2)
    _paint(level, slice(47, 57), slice(80, 92), 2)
    centre[52, 86] = 1.0
    parse = parse_film(frac, level, centre, (0, 0, 128, 128))
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5")
    assert all(b.centre[0] < 70 for b in parse.bodies)
    monkeypatch.setattr(postprocess, "drop_off_axis", list)  # without the rule it is numbered
    assert len(parse_film(frac, level, centre, (0, 0, 128, 128)).bodies) == 7


def _with_specks(frac: np.ndarray, count: int) -> np.ndarray:
    """The maps with ``count`` 5 x 5 px bone specks and no centre peak beside the column's top
    (a lead marker read as bone in pieces)."""
    frac = frac.copy()
    for i in range(count):
        _paint(frac, slice(6, 11), slice(20 + 6 * i, 25 + 6 * i), 2)
    return frac


def test_specks_without_a_centre_peak_do_not_set_the_body_size() -> None:
    # Four 12 x 16 px bodies (192 px each) with a peak and five 5 x 5 px specks (25 px)
    # without: the size is sqrt(192), not sqrt(25).
    frac, level, centre = film_maps(4)
    specked = _with_specks(frac, 5)
    body = np.isin(specked.argmax(0), (1, 2))
    assert typical_body_size(body, find_peaks(centre)) == pytest.approx(np.sqrt(192))
    # Held-out 950060: the tiny size split the bodies into fragments and no body was found.
    parse = parse_film(specked, level, centre, (0, 0, 128, 128))
    assert parse.levels == ("L2", "L3", "L4", "L5")


def test_without_any_peak_every_blob_sets_the_body_size() -> None:
    frac, _, _ = film_maps(2)
    body = np.isin(frac.argmax(0), (1, 2))
    assert typical_body_size(body, np.zeros((0, 2))) == pytest.approx(np.sqrt(192))


def _blob(area_rows: int, top: int) -> np.ndarray:
    """A 10 px wide mask ``area_rows`` tall at row ``top`` of a 200 x 40 grid."""
    mask = np.zeros((200, 40), bool)
    mask[top:top + area_rows, 10:20] = True
    return mask


def test_a_mask_is_body_sized_against_the_typical_body_or_with_a_peak_the_median_mask() -> None:
    # size 20: the typical floor is 0.35 x 400 = 140 px. Masks of 400, 400, 100 (peak) and 100
    # (no peak) px: the median is 250, its floor 87.5, so the small one with a peak stays (a CT
    # plane's upper thoracic body, far smaller than the typical body) and the other goes.
    masks = [_blob(40, 0), _blob(40, 50), _blob(10, 100), _blob(10, 150)]
    peaks = np.array([[15, 20], [15, 70], [15, 105]])
    kept = body_sized(masks, peaks, 20.0)
    assert [int(m.sum()) for m in kept] == [400, 400, 100]
    # Specks without a peak (held-out 950060's lead marker) go, however many: 0.35 x the median
    # 30 px is 10.5, but they hold no peak and are under 140.
    specks = [_blob(3, 110 + 4 * i) for i in range(5)]
    assert [int(m.sum()) for m in body_sized(masks[:2] + specks, peaks[:2], 20.0)] == [400, 400]
    # A peak in a mask under 0.35 of the median mask does not keep it: 20 px against 400.
    peaks = np.array([[15, 20], [15, 70], [15, 101]])
    assert len(body_sized(masks[:2] + [_blob(40, 150), _blob(2, 100)], peaks, 20.0)) == 3
