"""The warm models and the analysis jobs the review controller runs on a worker thread.

An Analyzer is built on the worker thread the first time it is needed (importing torch and
loading weights takes seconds) and kept for every later study: one for radiographs and one for CT
(``registry.model_id_for(kind)``; when both kinds name the same model it is loaded once). A lock
makes sure a cancelled analysis still finishing on an old thread and a new one never load a model
twice. A CT volume is analysed whole (``models.ct.analyze_volume``): each body is measured on its
own mid-sagittal plane.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vcfviewer.core.annotation import Proposal
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.progress import Job, Progress

AnalyzerFactory = Callable[[str | None, str], Any]  # (model_id, preset) -> Analyzer-like
VolumeAnalysis = Callable[[Any, Volume], Job[Proposal]]  # (analyzer, volume) -> Proposal job
KINDS = ("radiograph", "ct")


class AnalysisUnavailable(RuntimeError):
    """This installation cannot analyse what was asked (e.g. no CT analysis yet)."""


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


def _default_volume_analysis(analyzer: Any, volume: Volume) -> Job[Proposal]:
    try:
        from vcfviewer.models.ct import analyze_volume
    except ImportError as exc:
        raise AnalysisUnavailable(f"CT analysis is not available in this installation ({exc})"
                                  ) from None
    return analyze_volume(analyzer, volume)


def _set_preset(analyzer: Any, preset: str) -> None:
    # Changing the preset only changes the decision threshold: no need to reload the weights.
    # A model without that preset (a CT model with other names) keeps its own threshold.
    card = getattr(analyzer, "card", None)
    if getattr(analyzer, "threshold_preset", preset) != preset and preset in getattr(
            card, "thresholds", {}):
        analyzer.threshold = card.threshold(preset)
        analyzer.threshold_preset = preset


class ModelHolder:
    """Keeps the radiograph and CT Analyzers alive between studies; thread-safe ``get``.

    ``model_id`` forces one model for every kind (tests, a model the reader picked); otherwise
    each kind gets ``registry.model_id_for(kind)``. ``volume_analysis`` runs a CT volume
    (default ``models.ct.analyze_volume``; tests pass a fake).
    """

    def __init__(self, factory: AnalyzerFactory | None = None, model_id: str | None = None,
                 volume_analysis: VolumeAnalysis | None = None) -> None:
        self._factory = factory or _default_factory
        self._model_id = model_id
        self._volume_analysis = volume_analysis or _default_volume_analysis
        self._lock = threading.Lock()
        self._analyzers: dict[str | None, Any] = {}  # by model id
        self._ids: dict[str, str | None] = {}  # kind -> model id, resolved once

    def model_id(self, kind: str = "radiograph") -> str | None:
        """The model that reads ``kind`` ("radiograph" or "ct"); None = the factory's default."""
        if self._model_id is not None:
            return self._model_id
        if kind not in self._ids:
            from vcfviewer.models.registry import model_id_for  # pure data, no torch

            self._ids[kind] = model_id_for(kind)
        return self._ids[kind]

    @property
    def loaded(self) -> Any:
        """The radiograph Analyzer if it was built already (else any loaded one, else None)."""
        analyzers = dict(self._analyzers)
        first = analyzers.get(self._ids.get("radiograph", self._model_id))
        return first if first is not None else next(iter(analyzers.values()), None)

    def loaded_for(self, kind: str) -> Any:
        """The Analyzer of ``kind`` if it was built already, else None (never blocks)."""
        return self._analyzers.get(self.model_id(kind))

    def get(self, preset: str, kind: str = "radiograph") -> Any:
        """The warm Analyzer of ``kind`` (built on first use) set to threshold ``preset``."""
        model_id = self.model_id(kind)
        with self._lock:
            analyzer = self._analyzers.get(model_id)
            if analyzer is None:
                analyzer = self._analyzers[model_id] = self._factory(model_id, preset)
            _set_preset(analyzer, preset)
            return analyzer

    def warm_job(self, preset: str) -> Job[Any]:
        """Load every kind's model (radiograph first); returns the radiograph Analyzer."""
        first = None
        for kind in KINDS:
            if self.loaded_for(kind) is None:
                yield Progress("model", math.nan, f"Loading the {kind} model")
            analyzer = self.get(preset, kind)
            first = first or analyzer
        return first

    def analysis_job(self, image: Radiograph, preset: str, plane_index: int | None = None,
                     facing: str = "auto") -> Job[AnalysisResult]:
        """Load the model if needed, then analyse ``image`` (a generator job, cancellable);
        ``facing`` as in ``Analyzer.analyze``.

        ``plane_index`` marks the result as one CT plane's (the one-plane annotations of
        earlier versions); the viewer now analyses whole volumes with ``volume_job``.
        """
        import time

        if self.loaded_for("radiograph") is None:
            yield Progress("model", math.nan, "Loading the model")
        analyzer = self.get(preset)
        start = time.perf_counter()
        proposal = yield from analyzer.analyze(image, facing=facing)
        if plane_index is not None:
            proposal = _on_plane(proposal, plane_index)
        return _result(proposal, analyzer, time.perf_counter() - start)

    def volume_job(self, volume: Volume, preset: str) -> Job[AnalysisResult]:
        """Load the CT model if needed, then analyse the whole ``volume`` (cancellable)."""
        import time

        if self.loaded_for("ct") is None:
            yield Progress("model", math.nan, "Loading the CT model")
        analyzer = self.get(preset, "ct")
        start = time.perf_counter()
        proposal = yield from self._volume_analysis(analyzer, volume)
        return _result(proposal, analyzer, time.perf_counter() - start)


def _result(proposal: Proposal, analyzer: Any, seconds: float) -> AnalysisResult:
    return AnalysisResult(proposal, str(analyzer.device_name), str(analyzer.model_id),
                          str(analyzer.model_version), seconds)


def _on_plane(proposal: Proposal, plane_index: int) -> Proposal:
    """A CT plane's proposal says which sagittal reformat its landmarks lie on."""
    annotation = proposal.annotation
    image = replace(annotation.image, plane_index=int(plane_index))
    return replace(proposal, annotation=replace(annotation, image=image))
