"""The warm model and the analysis job the review controller runs on a worker thread.

The Analyzer is built on the worker thread the first time it is needed (importing torch and
loading weights takes seconds) and kept for every later study. A lock makes sure a cancelled
analysis still finishing on an old thread and a new one never load the model twice.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vcfviewer.core.annotation import Proposal
from vcfviewer.core.image import Radiograph
from vcfviewer.core.progress import Job, Progress

AnalyzerFactory = Callable[[str | None, str], Any]  # (model_id, preset) -> Analyzer-like


@dataclass(frozen=True)
class AnalysisResult:
    """A proposal and the model that made it (for the status bar and provenance)."""

    proposal: Proposal
    device_name: str
    model_id: str
    model_version: str
    seconds: float


def _default_factory(model_id: str | None, preset: str) -> Any:
    from vcfviewer.models.inference import Analyzer  # torch is imported here, off the GUI thread

    return Analyzer(model_id=model_id, threshold_preset=preset)


def _set_preset(analyzer: Any, preset: str) -> None:
    # Changing the preset only changes the decision threshold: no need to reload the weights.
    if getattr(analyzer, "threshold_preset", preset) != preset:
        analyzer.threshold = analyzer.card.threshold(preset)
        analyzer.threshold_preset = preset


class ModelHolder:
    """Keeps one Analyzer alive between studies; thread-safe ``get``."""

    def __init__(self, factory: AnalyzerFactory | None = None, model_id: str | None = None
                 ) -> None:
        self._factory = factory or _default_factory
        self._model_id = model_id
        self._lock = threading.Lock()
        self._analyzer: Any = None

    @property
    def loaded(self) -> Any:
        """The Analyzer if it was built already, else None (never blocks)."""
        return self._analyzer

    def get(self, preset: str) -> Any:
        """The warm Analyzer (built on first use) set to threshold ``preset``."""
        with self._lock:
            if self._analyzer is None:
                self._analyzer = self._factory(self._model_id, preset)
            _set_preset(self._analyzer, preset)
            return self._analyzer

    def analysis_job(self, image: Radiograph, preset: str, plane_index: int | None = None
                     ) -> Job[AnalysisResult]:
        """Load the model if needed, then analyse ``image`` (a generator job, cancellable)."""
        import time

        if self._analyzer is None:
            yield Progress("model", math.nan, "Loading the model")
        analyzer = self.get(preset)
        start = time.perf_counter()
        proposal = yield from analyzer.analyze(image)
        if plane_index is not None:
            proposal = _on_plane(proposal, plane_index)
        return AnalysisResult(proposal, str(analyzer.device_name), str(analyzer.model_id),
                              str(analyzer.model_version), time.perf_counter() - start)


def _on_plane(proposal: Proposal, plane_index: int) -> Proposal:
    """A CT plane's proposal says which sagittal reformat its landmarks lie on."""
    annotation = proposal.annotation
    image = replace(annotation.image, plane_index=int(plane_index))
    return replace(proposal, annotation=replace(annotation, image=image))
