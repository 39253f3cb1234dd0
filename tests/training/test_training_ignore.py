"""Bodies the truth leaves out (cut by the field edge) are ignored by the film losses."""

from __future__ import annotations

import numpy as np
import torch

from vcfviewer.core.annotation import ImageRef, Provenance, StudyAnnotation, VertebraFinding
from vcfviewer.training.data import IGNORE, film_example, labelled_film
from vcfviewer.training.losses import film_loss, soft_dice


def _annotation() -> StudyAnnotation:
    lm = np.array([[30, 20], [20, 20], [10, 20], [30, 40], [20, 40], [10, 40]], float)
    return StudyAnnotation(image=ImageRef("", 64, 64, (1.0, 1.0)),
                           findings=(VertebraFinding("L1", lm),), provenance=Provenance("t"))


def test_ignored_pixels_get_the_ignore_class_and_no_centre() -> None:
    labels = np.zeros((64, 64), np.int16)
    labels[20:41, 10:31] = 1
    ignore = np.zeros((64, 64), bool)
    ignore[0:8, 10:31] = True  # a cut body above the truth's top body
    ignore[20:25, 10:15] = True  # overlaps a truth body: the truth wins
    film = labelled_film(np.random.default_rng(0).random((64, 64)), labels, _annotation(), ignore)
    assert (film.label_map == 2).sum() == 8 * 21 and (film.label_map == 1).sum() == 21 * 21
    ex = film_example(film, 64, np.random.default_rng(0), augment=False)
    assert (ex["fracture"] == IGNORE).sum() == 8 * 21 and (ex["level"] == IGNORE).sum() == 8 * 21
    assert (ex["fracture"] == 2).sum() == 21 * 21  # the truth body stays "normal"
    assert ex["centre"][0:8].max() < 0.05  # no centre peak for the ignored body


def test_predictions_on_ignored_pixels_cost_nothing() -> None:
    target = torch.zeros((1, 8, 8), dtype=torch.long)
    target[0, :4] = IGNORE
    good = torch.zeros((1, 4, 8, 8))
    good[:, 0] = 10.0  # confident background everywhere
    odd = good.clone()
    odd[:, 0, :4], odd[:, 2, :4] = 0.0, 10.0  # says "body" on the ignored half only
    assert torch.isclose(soft_dice(good, target, 4), soft_dice(odd, target, 4))
    batch = {"fracture": target, "level": target.clone(), "centre": torch.zeros((1, 8, 8)),
             "global": torch.zeros((1, 2))}
    out = {"fracture": odd, "level": odd, "centre": torch.full((1, 8, 8), -5.0),
           "facing": torch.zeros((1, 8, 8)), "global": torch.zeros((1, 2))}
    out_good = dict(out, fracture=good, level=good)
    assert torch.isclose(film_loss(out, batch)[0], film_loss(out_good, batch)[0])


def test_the_simulator_marks_bodies_left_out_of_the_truth() -> None:
    from vcfviewer.synth import simulate

    for seed in range(4):
        study = simulate(seed)
        assert study.ignore is not None and study.ignore.shape == study.label_map.shape
        assert not (study.ignore & (study.label_map > 0)).any()
        if study.ignore.any():  # a body cut by the field edge, outside the truth
            return
    raise AssertionError("no film among four seeds with a body left out of the truth")


def test_coarsening_keeps_the_grid_and_loses_detail() -> None:
    from vcfviewer.training.data import coarsen

    img = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)  # a 1-pixel checkerboard
    rng = np.random.default_rng(1)
    outs = [coarsen(img, rng, 4.0) for _ in range(20)]
    assert all(o.shape == img.shape for o in outs)
    changed = [o for o in outs if not np.array_equal(o, img)]
    assert 0 < len(changed) < 20  # about half the time
    assert all(o.std() < 0.25 for o in changed)  # the checkerboard (std 0.5) is averaged away
    assert np.array_equal(coarsen(img, rng, 1.0), img)


def test_ct_planes_from_the_simulator_mark_left_out_bodies() -> None:
    from vcfviewer.synth.ct import simulate_ct_plane

    study = simulate_ct_plane(1)
    assert study.ignore is not None and study.ignore.any()
    assert not (study.ignore & (study.label_map > 0)).any()
