"""The headless inference pipeline: preprocess → film network → post-process → body network → measure.

``Analyzer`` loads a model once (sha256-checked safetensors), keeps it warm and runs it as a
generator job yielding ``Progress`` between stages so the GUI can show progress and cancel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from vcfviewer import __version__
from vcfviewer.core.annotation import Proposal, StudyAnnotation
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.levels import SACRUM
from vcfviewer.core.progress import Job, Progress, run_to_completion
from vcfviewer.models import (assemble, confidence, field, hidden, merged, postprocess,
                              preprocess, repeats, ribs, tiles)
from vcfviewer.models.facing import FacingCall, anatomy_flags, decide_facing, facing_flags
from vcfviewer.models.network import (BodyNet, FilmNet, NetSpec, RibEnsemble, RibNet,
                                      landmark_spread)
from vcfviewer.models.registry import ModelCard
from vcfviewer.models.weights import WeightsError, load_state, verified_weights


# The film network also reads the film re-windowed darker-to-lighter (gamma < 1 lifts an
# under-exposed upper field) and lighter-to-darker (> 1, a burnt-out one); bodies those views
# show next to the column join it (postprocess.add_from_exposures). Chosen on validation films.
EXPOSURE_GAMMAS = (0.3, 2.5)


def choose_device(requested: str | None = None) -> torch.device:
    """cuda → mps → cpu unless the caller names one."""
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """Human words for the status bar: "CUDA: NVIDIA H100", "CPU (2 threads)"."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


def build_networks(card_input: dict) -> tuple[FilmNet, BodyNet]:
    """Fresh (untrained) networks shaped as a model card's input spec says."""
    film = FilmNet(NetSpec(int(card_input["film_size"]), tuple(card_input["film_widths"]),
                           stem_stride=int(card_input.get("film_stem_stride", 1))))
    body = BodyNet(NetSpec(int(card_input["body_size"]), tuple(card_input["body_widths"])))
    return film, body


def build_rib_net(card_input: dict) -> RibNet | RibEnsemble | None:
    """The rib network a card describes (``models.ribs``), or None for a model without one; with
    ``rib_members`` > 1, that many networks read as one (``RibEnsemble``)."""
    if "rib_size" not in card_input:
        return None
    spec = NetSpec(int(card_input["rib_size"]), tuple(card_input["rib_widths"]),
                   stem_stride=int(card_input.get("rib_stem_stride", 1)))
    members = int(card_input.get("rib_members", 1))
    return RibNet(spec) if members == 1 else RibEnsemble([RibNet(spec) for _ in range(members)])


def split_state(state: dict) -> tuple[dict, dict]:
    """One safetensors file holds both networks under "film." and "body." prefixes."""
    return prefixed(state, "film."), prefixed(state, "body.")


def prefixed(state: dict, prefix: str) -> dict:
    """The tensors of one network in a shared weights file, prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@dataclass
class FilmOutput:
    """Softmax/sigmoid maps of the film network (numpy, input grid) and film-level probabilities."""

    fracture: np.ndarray  # (4, S, S)
    level: np.ndarray  # (4, S, S)
    centre: np.ndarray  # (S, S)
    faces_right: float
    inverted: float


@dataclass(frozen=True)
class FilmReading:
    """A film read by the film network: the [0, 1] image in the orientation it was read in
    (inverted back if needed), its letterbox transform, the plain exposure's maps, the column,
    and which way the patient was taken to face."""

    unit: np.ndarray
    transform: preprocess.FilmTransform
    film: FilmOutput
    parse: postprocess.FilmParse
    facing: FacingCall


class Analyzer:
    """Loads a model once and analyses radiographs (see module docstring)."""

    def __init__(self, model_id: str | None = None, device: str | None = None,
                 threshold_preset: str = "balanced") -> None:
        card, path = verified_weights(model_id)
        self.card: ModelCard = card
        self.model_id = card.id
        self.model_version = card.version
        self.threshold_preset = threshold_preset
        self.threshold = card.threshold(threshold_preset)
        self.device = choose_device(device)
        self.device_name = describe_device(self.device)
        self.film_net, self.body_net = build_networks(card.input)
        self.rib_net = build_rib_net(card.input)
        state = load_state(path)
        try:
            self.film_net.load_state_dict(prefixed(state, "film."))
            self.body_net.load_state_dict(prefixed(state, "body."))
            if self.rib_net is not None:
                self.rib_net.load_state_dict(prefixed(state, "rib."))
        except RuntimeError as exc:
            raise WeightsError(f"{path}: weights do not fit the card's network ({exc})") from None
        for net in (self.film_net, self.body_net, self.rib_net):
            if net is not None:
                net.to(self.device).eval()

    @classmethod
    def from_networks(cls, card: ModelCard, film: FilmNet, body: BodyNet,
                      device: str = "cpu", threshold_preset: str = "balanced",
                      rib: RibNet | RibEnsemble | None = None) -> "Analyzer":
        """An analyser around networks in memory (training-time validation, tests)."""
        self = cls.__new__(cls)
        self.card, self.model_id, self.model_version = card, card.id, card.version
        self.threshold_preset = threshold_preset
        self.threshold = card.threshold(threshold_preset)
        self.device = torch.device(device)
        self.device_name = describe_device(self.device)
        self.film_net, self.body_net = film.to(self.device).eval(), body.to(self.device).eval()
        self.rib_net = rib.to(self.device).eval() if rib is not None else None
        return self

    def _autocast(self):
        # Mixed precision only where it pays (CUDA); CPU stays float32.
        return torch.autocast("cuda", dtype=torch.float16, enabled=self.device.type == "cuda")

    def run_film_exposures(self, film_inputs: np.ndarray) -> list[FilmOutput]:
        """Film network on a stack of preprocessed inputs (n, S, S), each averaged with its
        mirror image, all in one forward pass.

        Mirror averaging (flip test-time augmentation) doubles the batch. It made no difference
        on simulated films but found the column on a real low-contrast film where the plain pass
        found no body at all (model card).
        """
        n = len(film_inputs)
        outs = self.run_films(np.concatenate([film_inputs, film_inputs[:, :, ::-1]]))
        return [average_mirrored(outs[i], outs[n + i]) for i in range(n)]

    @torch.inference_mode()
    def run_films(self, film_inputs: np.ndarray) -> list[FilmOutput]:
        """Film network on a stack of preprocessed inputs (n, S, S), one forward pass."""
        x = torch.from_numpy(np.ascontiguousarray(film_inputs, np.float32))[:, None].to(self.device)
        with self._autocast():
            out = self.film_net(x)
        glob = torch.sigmoid(out["global"].float()).cpu().numpy()
        fracture = torch.softmax(out["fracture"].float(), 1).cpu().numpy()
        level = torch.softmax(out["level"].float(), 1).cpu().numpy()
        centre = torch.sigmoid(out["centre"].float()).cpu().numpy()
        facing = torch.sigmoid(out["facing_probe"].float()).cpu().numpy().reshape(len(x))
        return [FilmOutput(fracture[i], level[i], centre[i], float(facing[i]), float(glob[i, 1]))
                for i in range(len(x))]

    def analyze_volume(self, volume: Volume) -> Job[Proposal]:
        """Generator job for a CT volume: every body measured on its own mid-sagittal plane."""
        from vcfviewer.models.ct import analyze_volume

        return analyze_volume(self, volume)

    @property
    def spread_scale(self) -> float:
        """Factor putting this model's landmark spreads on the shipped network's scale."""
        return confidence.spread_scale(self.card.input)

    def run_bodies(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Body network on a stack of crops (n, S, S): mask prob, landmarks (crop px), their
        heatmaps' spread (crop px, on the shipped network's scale: ``confidence.spread_scale``),
        fracture prob."""
        out = self._body_outputs(crops)
        out["landmark_spread"] = out["landmark_spread"] * self.spread_scale
        return out

    def column_spreads(self, image: Radiograph, facing: str = "auto") -> np.ndarray:
        """The mean landmark spread (crop px, as the network gives it, unscaled) of each body of
        the film's column as the body network first reads it, the film read facing ``facing``
        (as in ``analyze``): a training run's ``landmark_spread_reference`` is their median over
        its validation films."""
        reading = self.read_film(preprocess.normalise_unit(image.pixels), [], facing)
        crops, _ = assemble.body_crops(reading.unit, reading.parse, reading.transform,
                                       self.card.input)
        return self._body_outputs(crops)["landmark_spread"].mean(axis=1)

    @torch.inference_mode()
    def _body_outputs(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        if len(crops) == 0:
            size = int(self.card.input["body_size"])
            return {"mask": np.zeros((0, size, size)), "landmarks": np.zeros((0, 6, 2)),
                    "landmark_spread": np.zeros((0, 6)), "fracture": np.zeros(0)}
        x = torch.from_numpy(np.ascontiguousarray(crops))[:, None].to(self.device)
        with self._autocast():
            out = self.body_net(x)
        return {"mask": torch.sigmoid(out["mask"].float()).cpu().numpy(),
                "landmarks": out["landmarks"].float().cpu().numpy(),
                "landmark_spread": landmark_spread(out["heatmaps"]).cpu().numpy(),
                "fracture": torch.sigmoid(out["fracture"].float()).cpu().numpy()}

    def analyze(self, image: Radiograph, facing: str = "auto") -> Job[Proposal]:
        """Generator job: yields Progress per stage, returns the Proposal.

        ``facing`` "left" or "right" overrules the model's call of which way the patient faces
        (``models.facing``); "auto" keeps it."""
        timings: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        yield Progress("preprocess", 0.0, "Preparing the image")
        unit = preprocess.normalise_unit(image.pixels)
        timings.append(("preprocess", time.perf_counter() - t0))
        yield Progress("network", 0.15, "Finding and numbering vertebral bodies")
        reading = self.read_film(unit, timings, facing)
        t0 = time.perf_counter()
        exposed = field.exposed_field(image.pixels)
        timings.append(("postprocess", time.perf_counter() - t0))
        annotation, study_p, parse = yield from self._measure(image, reading, reading.parse,
                                                             exposed, timings)
        t0 = time.perf_counter()
        split = merged.read_apart(reading.unit, annotation.findings, parse,
                                  reading.transform, (reading.film.fracture, reading.film.level),
                                  self.card.input, self.threshold, image.spacing_mm,
                                  self.run_bodies)
        timings.append(("network", time.perf_counter() - t0))
        if split is not None:
            annotation, study_p, _ = yield from self._measure(image, reading, split, exposed,
                                                             timings, again=True)
        t0 = time.perf_counter()
        annotation = self.check_ribs(reading.unit, annotation)
        timings.append(("network", time.perf_counter() - t0))
        t0 = time.perf_counter()
        notes = facing_flags(reading.facing) + anatomy_flags(annotation.findings,
                                                             reading.facing.side)
        annotation = replace(annotation, flags=annotation.flags + tuple(notes))
        timings.append(("measure", time.perf_counter() - t0))
        yield Progress("measure", 1.0, "Done")
        return Proposal(annotation=annotation, device=self.device_name,
                        timings_s=tuple(_merge(timings)), study_fracture_probability=study_p,
                        facing=reading.facing.side)

    def _measure(self, image: Radiograph, reading: "FilmReading", parse: postprocess.FilmParse,
                 exposed: field.ExposedField | None, timings: list, again: bool = False
                 ) -> Job[tuple[StudyAnnotation, float | None, postprocess.FilmParse]]:
        """Generator: the body network on every body of ``parse``, a body read twice dropped
        (``models.repeats``), the findings graded; returns (annotation, study probability, the
        column measured).
        ``again``: the column changed after a first measurement (``models.merged``)."""
        cut, measure, grade = (0.88, 0.9, 0.95) if again else (0.45, 0.6, 0.85)
        yield Progress("postprocess", cut, "Cutting out each body" + (" again" if again else ""))
        t0 = time.perf_counter()
        crops, crop_tfs = assemble.body_crops(reading.unit, parse, reading.transform,
                                              self.card.input)
        timings.append(("postprocess", time.perf_counter() - t0))
        yield Progress("network", measure, f"Measuring {len(crops)} bodies")
        t0 = time.perf_counter()
        body_out = self.run_bodies(crops)
        timings.append(("network", time.perf_counter() - t0))
        yield Progress("measure", grade, "Grading")
        t0 = time.perf_counter()
        masks = [assemble.body_mask(prob, tf, (image.rows, image.columns))
                 for prob, tf in zip(body_out["mask"], crop_tfs)]
        found = repeats.repeats_in(parse, body_out, masks)
        mended = repeats.restored(parse, found)
        if mended is not None:  # a neighbour whole again: measured afresh
            timings.append(("measure", time.perf_counter() - t0))
            return (yield from self._measure(image, reading, mended, exposed, timings, again=True))
        parse, crop_tfs, body_out, masks = repeats.drop_repeats(parse, crop_tfs, body_out, masks,
                                                                found)
        annotation, study_p = assemble.build_annotation(
            image, parse, reading.transform, crop_tfs, body_out, reading.film,
            self.threshold, self.card, software_version=__version__, field=exposed, masks=masks)
        timings.append(("measure", time.perf_counter() - t0))
        return annotation, study_p, parse

    def check_ribs(self, unit: np.ndarray, annotation: StudyAnnotation) -> StudyAnnotation:
        """Rename the column with an L6 when the rib network sees the pattern (``models.ribs``);
        only where the sacrum anchors the numbering and the model has a rib network."""
        if self.rib_net is None or annotation.by_level(SACRUM) is None:
            return annotation
        measured = [f for f in annotation.vertebrae if f.landmarks is not None]
        if not measured:
            return annotation
        size = int(self.card.input["rib_size"])
        try:
            crops = ribs.rib_crops(unit, [f.landmarks for f in measured], size)
        except ValueError:  # a body with collapsed landmarks: no frame to crop, no check
            return annotation
        probs = self.run_ribs(crops)
        reading = ribs.read_ribs([f.level for f in measured], probs)
        return ribs.rename_l6(annotation, reading) if reading.l6 else annotation

    @torch.inference_mode()
    def run_ribs(self, crops: np.ndarray) -> np.ndarray:
        """Rib network on a stack of crops (n, S, S): P(the body carries a rib) each."""
        x = torch.from_numpy(np.ascontiguousarray(crops, np.float32))[:, None].to(self.device)
        with self._autocast():
            return torch.sigmoid(self.rib_net(x).float()).cpu().numpy()

    def read_film(self, unit: np.ndarray, timings: list[tuple[str, float]],
                  facing: str = "auto") -> "FilmReading":
        """The film in its canonical orientation (§4: facing left, bone bright) at every
        exposure, with its column parsed (§6). ``facing`` as in ``analyze``."""
        # Orientation comes from the plain exposure alone; the other exposures are read once,
        # in the orientation chosen (a right-facing film would otherwise read them twice).
        films, transform = self._exposure_pass(unit, False, timings, (1.0,))
        call = decide_facing(films[0].faces_right, facing)
        flip, invert = call.faces_right, films[0].inverted > 0.5
        unit = 1.0 - unit if invert else unit
        if flip or invert:
            films, transform = self._exposure_pass(unit, flip, timings, (1.0, *EXPOSURE_GAMMAS))
        else:
            films += self._exposure_pass(unit, False, timings, EXPOSURE_GAMMAS)[0]
        closer = self._closer_look(unit, flip, transform, timings)
        parse = self._parse(films, transform, timings, closer)
        t0 = time.perf_counter()
        parse = tiles.confirmed(unit, parse, transform, self.card.input, self.run_bodies)
        parse = hidden.add_hidden_bodies(unit, parse, transform,
                                         (films[0].fracture, films[0].level), self.card.input,
                                         self.run_bodies)
        timings.append(("network", time.perf_counter() - t0))
        return FilmReading(unit, transform, films[0], parse, call)

    def _exposure_pass(self, unit: np.ndarray, flip: bool, timings: list,
                       gammas: tuple[float, ...]
                       ) -> tuple[list[FilmOutput], preprocess.FilmTransform]:
        t0 = time.perf_counter()
        size = int(self.card.input["film_size"])
        inputs, transform = preprocess.prepare_film_exposures(unit, size, gammas, flip=flip)
        timings.append(("preprocess", time.perf_counter() - t0))
        t0 = time.perf_counter()
        films = self.run_film_exposures(inputs)
        timings.append(("network", time.perf_counter() - t0))
        return films, transform

    def _closer_look(self, unit: np.ndarray, flip: bool, film: preprocess.FilmTransform,
                     timings: list) -> list[list[postprocess.BodyCandidate]]:
        """Bodies the film network finds on overlapping halves of the film (``models.tiles``),
        on the whole film's input grid; one list a reading (a half at one exposure).

        The halves are read without their mirror images (``run_films``, not
        ``run_film_exposures``): on 2000 simulated films (ten sets) the mirror changed no
        column, and it doubled the closer look's cost (model card, Speed)."""
        spans = tiles.tile_rows(*unit.shape)
        if not spans:
            return []
        t0 = time.perf_counter()
        size = int(self.card.input["film_size"])
        gammas = (1.0, *EXPOSURE_GAMMAS)
        prepared = [preprocess.prepare_film_exposures(unit[top:bottom], size, gammas, flip=flip)
                    for top, bottom in spans]
        timings.append(("preprocess", time.perf_counter() - t0))
        t0 = time.perf_counter()
        outs = self.run_films(np.concatenate([x for x, _ in prepared]))
        timings.append(("network", time.perf_counter() - t0))
        t0 = time.perf_counter()
        found = [tiles.bodies_from_tile((o.fracture, o.level, o.centre), tf, span, film)
                 for k, ((_, tf), span) in enumerate(zip(prepared, spans))
                 for o in outs[k * len(gammas):(k + 1) * len(gammas)]]
        timings.append(("postprocess", time.perf_counter() - t0))
        return found

    @staticmethod
    def _parse(films: list[FilmOutput], transform: preprocess.FilmTransform,
               timings: list, closer: list[list[postprocess.BodyCandidate]] = ()
               ) -> postprocess.FilmParse:
        t0 = time.perf_counter()
        # Edge bodies are kept here and judged by their landmarks (assemble._drop_cut).
        film = films[0]
        parse = postprocess.parse_film(film.fracture, film.level, film.centre,
                                       transform.content_box, drop_cut=False,
                                       exposures=[(f.fracture, f.level, f.centre) for f in films[1:]],
                                       closer=closer)
        timings.append(("postprocess", time.perf_counter() - t0))
        return parse

    def analyze_sync(self, image: Radiograph, facing: str = "auto") -> Proposal:
        """Run ``analyze`` to completion without a GUI."""
        return run_to_completion(self.analyze(image, facing))


def average_mirrored(plain: FilmOutput, mirrored: FilmOutput) -> FilmOutput:
    """Average a film's outputs with those of its mirror image, mapped back to the plain frame."""
    def back(m: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(m[..., ::-1])

    # The mirror image of a right-facing patient faces left.
    return FilmOutput(fracture=(plain.fracture + back(mirrored.fracture)) / 2,
                      level=(plain.level + back(mirrored.level)) / 2,
                      centre=(plain.centre + back(mirrored.centre)) / 2,
                      faces_right=(plain.faces_right + 1.0 - mirrored.faces_right) / 2,
                      inverted=(plain.inverted + mirrored.inverted) / 2)


def _merge(timings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    out: dict[str, float] = {}
    for name, seconds in timings:
        out[name] = out.get(name, 0.0) + seconds
    return list(out.items())
