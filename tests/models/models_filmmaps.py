"""Film-network maps drawn by hand on a 128 px grid: a column of box bodies above a sacrum
(tests only)."""
import numpy as np

from vcfviewer.models.postprocess import BodyCandidate


def film_maps(n_bodies: int, fractured: tuple[int, ...] = (), lumbar_from: int = 0, gap: int = 3,
              sacrum: bool = True, size: int = 128):
    """(fracture, level, centre) maps of ``n_bodies`` 12 x 16 px bodies from row 6 down, ``gap``
    rows apart (columns 50-65), the ``fractured`` ones fractured, those from ``lumbar_from``
    lumbar, and a sacrum below."""
    frac = np.zeros((4, size, size), np.float32)
    frac[0] = 1.0
    level = np.zeros_like(frac)
    level[0] = 1.0
    centre = np.zeros((size, size), np.float32)
    y = 6
    for i in range(n_bodies):
        rows, cols = slice(y, y + 12), slice(50, 66)
        cls = 1 if i in fractured else 2
        frac[:, rows, cols] = 0
        frac[cls, rows, cols] = 1.0
        level[:, rows, cols] = 0
        level[2 if i >= lumbar_from else 1, rows, cols] = 1.0
        centre[y + 6, 58] = 1.0
        y += 12 + gap
    if sacrum:
        frac[:, y:y + 14, 45:75] = 0
        frac[3, y:y + 14, 45:75] = 1.0
        level[:, y:y + 14, 45:75] = 0
        level[3, y:y + 14, 45:75] = 1.0
    return frac, level, centre


def hide_body(frac, level, centre, rows: slice = slice(6, 18)):
    """The same maps with one body lost (background over ``rows``), its centre peak with it; by
    default the top body (rows 6-17), as in an under-exposed upper field."""
    frac, level, centre = frac.copy(), level.copy(), centre.copy()
    frac[:, rows] = 0
    frac[0, rows] = 1.0
    centre[rows] = 0.0
    return frac, level, centre


def box_mask(rows: slice, cols: slice, size: int = 128) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[rows, cols] = True
    return mask


def bodies_at(ys: list[float]) -> list[BodyCandidate]:
    """Bodies at these rows of one vertical column (only their centres matter here)."""
    return [BodyCandidate(mask=box_mask(slice(int(y), int(y) + 2), slice(50, 52)),
                          centre=np.array([50.0, y]), fracture_vote=0.0, fracture_score=0.0,
                          lumbar_vote=1.0, touches_edge=False) for y in ys]
