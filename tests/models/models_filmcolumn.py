"""A column of box-shaped bodies on a 128 px film grid, numbered from a sacrum (tests only)."""
import numpy as np

from vcfviewer.models.postprocess import FilmParse, body_candidate, number_levels


def film_box(rows: slice, size: int = 128) -> np.ndarray:
    """A 16 px wide body (columns 50-65) over ``rows``."""
    mask = np.zeros((size, size), bool)
    mask[rows, 50:66] = True
    return mask


def film_body(rows: slice, second_look: bool = False, before=None):
    """A body over ``rows``, every pixel 'normal body' (``second_look`` / ``before`` as
    ``BodyCandidate`` says)."""
    frac = np.zeros((4, 128, 128), np.float32)
    frac[2] = 1.0
    return body_candidate(film_box(rows), frac, frac.copy(), (0, 0, 128, 128), second_look,
                          before)


def film_column(rows: list) -> FilmParse:
    """Bodies over ``rows`` (slices, or bodies already made) above a sacrum (rows 95-107),
    numbered from the sacrum."""
    bodies = [r if not isinstance(r, slice) else film_body(r) for r in rows]
    return number_levels(bodies, film_box(slice(95, 108)), drop_cut=False)
