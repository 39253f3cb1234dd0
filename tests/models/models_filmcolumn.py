"""A column of box-shaped bodies on a 128 px film grid, numbered from a sacrum (tests only)."""
import numpy as np

from vcfviewer.models.postprocess import FilmParse, body_candidate, number_levels


def film_box(rows: slice, size: int = 128) -> np.ndarray:
    """A 16 px wide body (columns 50-65) over ``rows``."""
    mask = np.zeros((size, size), bool)
    mask[rows, 50:66] = True
    return mask


def film_column(rows: list[slice]) -> FilmParse:
    """Bodies over ``rows`` above a sacrum (rows 95-107), every pixel 'normal body', numbered
    from the sacrum."""
    frac = np.zeros((4, 128, 128), np.float32)
    frac[2] = 1.0
    level = np.zeros_like(frac)
    level[2] = 1.0
    bodies = [body_candidate(film_box(r), frac, level, (0, 0, 128, 128)) for r in rows]
    return number_levels(bodies, film_box(slice(95, 108)), drop_cut=False)
