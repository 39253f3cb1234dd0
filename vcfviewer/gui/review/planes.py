"""Which findings of a CT annotation belong to the sagittal plane on screen.

A whole-volume CT annotation measures every body on its own mid-sagittal plane
(``StudyAnnotation.plane_of``); an older one-plane annotation has them all on one. The plane on
screen shows its own bodies in full (editable) and the others as ghosts. Pure numpy (no Qt), so it
is tested without a GUI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding


@dataclass(frozen=True)
class PlaneSplit:
    """The annotation restricted to one plane, and the bodies of other planes with their plane."""

    on_plane: StudyAnnotation
    ghosts: tuple[tuple[VertebraFinding, int], ...]


def split(annotation: StudyAnnotation, plane: int | None) -> PlaneSplit:
    """Bodies on ``plane`` (all of them on a radiograph, or when ``plane`` is None) and the rest.

    A finding without a plane in a CT annotation is shown on every plane: it cannot be anywhere else.
    """
    if plane is None or not annotation.image.is_reformat:
        return PlaneSplit(annotation, ())
    on, ghosts = [], []
    for finding in annotation.findings:
        own = annotation.plane_of(finding)
        if own is None or own == plane:
            on.append(finding)
        else:
            ghosts.append((finding, own))
    if len(on) == len(annotation.findings):
        return PlaneSplit(annotation, ())
    return PlaneSplit(replace(annotation, findings=tuple(on)), tuple(ghosts))


def planes_text(annotation: StudyAnnotation, finding: VertebraFinding) -> str | None:
    """ "measured on plane 31 of 60" (1-based, as the plane bar shows it); None off CT."""
    plane = annotation.plane_of(finding)
    if plane is None:
        return None
    count = annotation.image.plane_count
    return f"measured on plane {plane + 1}" + (f" of {count}" if count else "")


def plane_note(annotation: StudyAnnotation | None, plane: int) -> str:
    """The corner line under "Sagittal n / m": how many bodies are measured on this plane."""
    if annotation is None or not annotation.image.is_reformat:
        return ""
    here = sum(1 for f in annotation.findings if not f.is_sacrum
               and annotation.plane_of(f) in (None, plane))
    total = len(annotation.vertebrae)
    others = total - here
    if here == 0:
        return f"No body measured here ({total} on other planes)" if total else "No bodies found"
    text = f"{here} {'body' if here == 1 else 'bodies'} measured here"
    return text + (f", {others} on other planes" if others else "")

