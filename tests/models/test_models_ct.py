"""CT analysis helpers: which planes are scanned, how detections become bodies, their mid planes."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.image import SourceRef, Volume, Window
from vcfviewer.models import ct
from vcfviewer.models.postprocess import BodyCandidate


def _body(x: float, y: float, area_side: int = 10) -> BodyCandidate:
    mask = np.zeros((64, 64), bool)
    mask[int(y) - area_side // 2: int(y) + area_side // 2, int(x) - area_side // 2: int(x) + area_side // 2] = True
    return BodyCandidate(mask=mask, centre=np.array([x, y], float), fracture_vote=0.0,
                         fracture_score=0.1, lumbar_vote=1.0, touches_edge=False)


def _volume(lr_spacing: float, planes: int) -> Volume:
    # axial stack: (slice=z, row=y, column=x); x (patient left) is the sagittal plane index
    voxels = np.full((8, 8, planes), -1000.0, np.float32)
    return Volume(voxels, (2.0, 1.0, lr_spacing), (0.0, 0.0, 0.0), np.eye(3), Window(40, 400),
                  SourceRef("v"))


def test_scan_covers_40_mm_each_side_every_2_5_mm() -> None:
    # 1 mm planes: step round(2.5) = 2 planes, reach 40 planes either side of the middle (50)
    planes = ct.scan_planes(_volume(1.0, 101))
    assert planes[0] == 10 and planes[-1] == 90 and 50 in planes
    assert set(np.diff(planes)) == {2}
    # 3 mm planes: every plane, 14 planes either side, clipped at the volume's edge
    planes = ct.scan_planes(_volume(3.0, 20))
    assert planes == list(range(0, 20))


def test_detections_on_neighbouring_planes_become_one_body_each() -> None:
    upper = [(p, [_body(30, 15), _body(30, 40)]) for p in range(10, 30, 2)]
    # a pedicle-like blob seen on two planes only, behind the bodies
    blob = [(12, [_body(55, 20)]), (14, [_body(55, 20)])]
    tracks = ct.link_tracks(upper + blob, step=2)
    sizes = sorted(len(t.detections) for t in tracks)
    assert sizes == [2, 10, 10]
    kept = ct._keep(tracks, step=2, spacing=1.0, scanned=20)  # 12 mm needed: 2 planes x 2 = 4 mm
    assert sorted(len(t.detections) for t in kept) == [10, 10]


def test_far_apart_detections_stay_separate_bodies() -> None:
    # same plane range, centres 25 px apart (> half the 10 px body size): two bodies
    tracks = ct.link_tracks([(p, [_body(30, 15), _body(30, 40)]) for p in (0, 1)], step=1)
    assert len(tracks) == 2
    # a gap of more than two steps between planes breaks the chain
    tracks = ct.link_tracks([(0, [_body(30, 15)]), (5, [_body(30, 15)])], step=2)
    assert len(tracks) == 2


def test_a_plane_showing_two_bodies_joined_does_not_merge_their_tracks() -> None:
    # Two small bodies 6 px apart (body size 10 px, link reach 5 px) on planes 0-8, except
    # plane 4, which shows them joined as one detection midway (y 20), 3 px from each. Linked
    # freely, that detection would join both tracks; one body shows once on a plane, so it
    # joins one of them and the other body keeps its own track.
    per_plane = [(p, [_body(30, 17), _body(30, 23)]) for p in (0, 2, 6, 8)]
    per_plane.append((4, [_body(30, 20)]))
    tracks = ct.link_tracks(per_plane, step=2)
    assert sorted(len(t.detections) for t in tracks) == [4, 5]
    for t in tracks:
        assert len(set(t.planes.tolist())) == len(t.detections)  # never twice on one plane


def test_a_body_found_in_two_pieces_side_by_side_is_one_body() -> None:
    # Body size 10 px. On planes 0-6 the body shows as a front and a back piece 6 px apart
    # across the column (level with each other); below it, 10 px down, the next body.
    per_plane = [(p, [_body(27, 20), _body(33, 20), _body(30, 30)]) for p in (0, 2, 4, 6)]
    tracks = ct.link_tracks(per_plane, step=2)
    assert sorted(len(t.detections) for t in tracks) == [4, 8]  # pieces joined, neighbour not
    body = max(tracks, key=lambda t: len(t.detections))
    assert np.allclose(body.centre(), [30, 20])


def test_mid_plane_is_the_area_weighted_centre() -> None:
    # planes 10, 12, 14 with areas 36, 100, 100: (360 + 1200 + 1400) / 236 = 12.54 -> 13
    track = ct._Track([ct._Detection(10, _body(30, 15, 6)), ct._Detection(12, _body(30, 15, 10)),
                       ct._Detection(14, _body(30, 15, 10))])
    assert track.mid_plane() == 13
    assert track.nearest(13).plane in (12, 14)
    pooled = track.candidate()
    assert pooled.lumbar_vote == pytest.approx(1.0)


def test_ct_unit_clips_to_the_window_before_normalising() -> None:
    hu = np.array([[-1000.0, -250.0], [500.0, 3000.0]] * 50, np.float32)
    unit = ct.ct_unit(hu)
    assert unit.min() == 0.0 and unit.max() == 1.0
    # air and fat below the window read as the window's bottom
    assert unit[0, 0] == unit[0, 1]


def test_a_volume_without_a_spine_gives_no_findings_not_an_error() -> None:
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.models.inference import Analyzer

    volume = _volume(2.0, 30)  # all air: every plane is constant
    proposal = run_to_completion(Analyzer("vcf-lateral", device="cpu").analyze_volume(volume))
    assert proposal.annotation.findings == ()
    assert proposal.annotation.image.plane_count == 30


def _track(planes: list[int], x: float = 30, y: float = 15, side: int = 10) -> ct._Track:
    return ct._Track([ct._Detection(p, _body(x, y, side)) for p in planes])


def test_column_middle_is_the_size_weighted_median_of_mid_planes() -> None:
    # mid planes 10 (area 100 x 3 planes), 12 (100 x 3), 40 (36 x 1): weights 300, 300, 36
    tracks = [_track([9, 10, 11]), _track([11, 12, 13]), _track([40], side=6)]
    # sorted by plane, cumulative weights 300, 600, 636: half (318) is first reached at plane 12
    assert ct.column_middle(tracks) == 12.0
    assert ct.column_middle(tracks[:1] + tracks[2:]) == 10.0  # 300 of 336 at plane 10
    assert ct.column_middle([]) is None


def test_tracks_far_from_the_column_and_far_sacra_are_ignored() -> None:
    tracks = [_track([9, 10, 11]), _track([30, 31, 32])]
    # 1 mm planes: plane 31 is 21 mm from the middle 10 -> a rib or the ilium, dropped
    assert [t.mid_plane() for t in ct._in_column(tracks, 10.0, 1.0)] == [10]
    assert len(ct._in_column(tracks, 10.0, 0.5)) == 2  # 10.5 mm at 0.5 mm planes: kept
    small, big, far = np.ones((4, 4), bool), np.ones((8, 8), bool), np.ones((20, 20), bool)
    sacra = [(12, small), (15, big), (40, far)]
    plane, mask = ct._best_sacrum(sacra, 10.0, 1.0)
    assert plane == 15 and mask is big  # the largest within 10 mm; the ilium-like one at 30 mm is not
    assert ct._best_sacrum([(40, far)], 10.0, 1.0) is None
