"""DICOM images → core Radiograph (CR, DX, secondary capture, single CT/MR slices, any 2-D image).

Also the DICOM helpers the volume loader shares: reading with clear errors, decoding one frame or
all frames, the modality LUT in float32, the initial window, pixel spacing and patient info.

Every exception from pydicom, its decoder plugins or numpy is turned into a ``LoadError`` naming
the file and the reason. pydicom is imported inside the functions so that importing this module
stays cheap.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from vcfviewer.core.image import PatientInfo, Radiograph, SourceRef, SpacingSource, Window
from vcfviewer.core.progress import Job, Progress
from vcfviewer.io.errors import LoadError, describe

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

# Refuse to decode anything larger than this before trying (a corrupt Rows/Columns can ask for
# terabytes, and a MemoryError half-way through is slow and unfriendly).
MAX_PIXEL_BYTES = 4 * 1024**3

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as DICOM YBR_FULL uses
_VOI_LUT_CUT = 0.01  # fraction of the VOI LUT output range clipped at each end of the window


def read_dataset(
    path: str | os.PathLike[str],
    *,
    stop_before_pixels: bool = False,
    specific_tags: list[Any] | None = None,
    defer_size: int | None = None,
) -> "Dataset":
    """Read a DICOM file (with or without the 128-byte preamble) or raise LoadError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = os.fspath(path)
    kwargs: dict[str, Any] = {"stop_before_pixels": stop_before_pixels, "defer_size": defer_size}
    if specific_tags is not None:
        kwargs["specific_tags"] = specific_tags
    try:
        try:
            ds = pydicom.dcmread(path, **kwargs)
        except InvalidDicomError:
            if not looks_like_raw_dicom(path):
                raise LoadError(path, "not a DICOM file") from None
            ds = pydicom.dcmread(path, force=True, **kwargs)
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except IsADirectoryError:
        raise LoadError(path, "is a folder, not a file") from None
    except PermissionError:
        raise LoadError(path, "permission denied") from None
    except MemoryError:
        raise LoadError(path, "file too large to read into memory") from None
    except Exception as exc:  # pydicom raises many types for damaged files
        raise LoadError(path, f"unreadable DICOM file: {describe(exc)}") from None
    _ensure_transfer_syntax(ds)
    return ds


def looks_like_raw_dicom(path: str) -> bool:
    """True when a file without the DICM preamble starts with a group 0002/0008 element tag."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


def _ensure_transfer_syntax(ds: "Dataset") -> None:
    """Files read with force=True lack file meta; infer the syntax from how they were parsed."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return
    encoding = getattr(ds, "original_encoding", (None, None))
    implicit, little = encoding if encoding is not None else (None, None)
    if implicit is None or little is None:
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def number_of_frames(ds: "Dataset") -> int:
    """NumberOfFrames as an int (1 when absent or nonsense)."""
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def has_pixels(ds: "Dataset") -> bool:
    """Whether the dataset carries any pixel data element."""
    return any(keyword in ds for keyword in PIXEL_KEYWORDS)


def _check_pixel_module(ds: "Dataset", path: str, frames: int) -> None:
    """Refuse early: no pixels, no decoder for the syntax, or an absurd declared size."""
    from pydicom.pixels import get_decoder

    if not has_pixels(ds):
        kind = _sop_class_name(ds)
        raise LoadError(path, f"no pixel data: {kind} holds no image" if kind else "no pixel data")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits = int(ds.get("BitsAllocated") or 16)
        samples = int(ds.get("SamplesPerPixel") or 1)
    except (AttributeError, TypeError, ValueError) as exc:
        raise LoadError(path, f"incomplete image header: {describe(exc)}") from None
    if rows < 1 or cols < 1:
        raise LoadError(path, f"empty image ({rows} x {cols} pixels)")
    if rows * cols * frames * samples * math.ceil(max(bits, 1) / 8) > MAX_PIXEL_BYTES:
        raise LoadError(path, f"image too large to load ({rows} x {cols} x {frames} frames)")
    if "PixelData" not in ds:
        return  # float pixel data is never compressed
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if not syntax:
        raise LoadError(path, "no transfer syntax in the file meta: cannot decode pixels")
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise LoadError(path, f"unsupported {_syntax_label(syntax)}") from None
    if not decoder.is_available:
        raise LoadError(path, f"no decoder installed for {_syntax_label(syntax)}")


def _syntax_label(syntax: Any) -> str:
    """'JPEG-LS Lossless Image Compression (transfer syntax 1.2.840...)', or the bare UID."""
    name = str(getattr(syntax, "name", "") or "")
    if not name or name == str(syntax):
        return f"transfer syntax {syntax}"
    return f"{name} (transfer syntax {syntax})"


_UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")


def _sop_class_name(ds: "Dataset") -> str:
    """The SOP class's registered name, or its UID; "" for anything that is not a valid UID.

    A damaged header can make SOPClassUID swallow other elements (the patient's name among
    them), so only a well-formed UID is ever quoted back to the reader or a log.
    """
    uid = ds.get("SOPClassUID")
    text = str(uid or "")
    if not _UID_PATTERN.fullmatch(text):
        return ""
    return str(getattr(uid, "name", "") or text)


def decode_pixels(ds: "Dataset", path: str, frame: int | None = None) -> np.ndarray:
    """Decoded stored values of one frame (0-based) or, with ``frame=None``, of all frames."""
    from pydicom.pixels import pixel_array

    frames = number_of_frames(ds)
    _check_pixel_module(ds, path, 1 if frame is not None else frames)
    if frame is not None and not 0 <= frame < frames:
        raise LoadError(path, f"frame {frame + 1} requested but the file has {frames}")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    try:
        return pixel_array(ds, index=frame)
    except MemoryError:
        raise LoadError(path, "not enough memory to decode the pixel data") from None
    except Exception as exc:  # decoder plugins raise anything from ValueError to RuntimeError
        name = getattr(syntax, "name", "unknown syntax")
        raise LoadError(path, f"cannot decode pixel data ({name}): {describe(exc)}") from None


def to_grey(arr: np.ndarray, ds: "Dataset") -> tuple[np.ndarray, str | None]:
    """One frame as a 2-D array; colour (RGB/YBR/palette) becomes float32 luma, with a note."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric == "PALETTE COLOR" and arr.ndim == 2:
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    if arr.ndim == 2:
        return arr, None
    if arr.ndim != 3 or arr.shape[-1] < 3:
        return arr[..., 0], None
    r, g, b = (arr[..., i].astype(np.float32) for i in range(3))
    r *= np.float32(_GREY_WEIGHTS[0])
    r += g * np.float32(_GREY_WEIGHTS[1])
    r += b * np.float32(_GREY_WEIGHTS[2])
    return r, f"{photometric.lower()} image converted to grey"


def stored_range(ds: "Dataset", arr: np.ndarray) -> tuple[float, float]:
    """The range the stored values can take (from Bits Stored), or the data range for floats."""
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if arr.dtype == np.uint8:
        return 0.0, 255.0
    try:
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
    except (TypeError, ValueError):
        bits = 16
    bits = min(max(bits, 1), 32)
    if int(ds.get("PixelRepresentation") or 0) == 1:
        return -float(2 ** (bits - 1)), float(2 ** (bits - 1) - 1)
    return 0.0, float(2**bits - 1)


def rescale_of(ds: "Dataset") -> tuple[float, float]:
    """(slope, intercept) from the top level or the shared functional groups; (1, 0) if absent."""
    source: Any = ds
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        shared = _shared_group(ds, "PixelValueTransformationSequence")
        source = shared if shared is not None else ds
    try:
        slope = float(source.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(source.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        return 1.0, 0.0
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope == 0:
        return 1.0, 0.0
    return slope, intercept


def _shared_group(ds: "Dataset", keyword: str) -> Any:
    """First item of ``keyword`` inside SharedFunctionalGroupsSequence (enhanced objects)."""
    try:
        return ds.SharedFunctionalGroupsSequence[0][keyword].value[0]
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def modality_values(
    arr: np.ndarray, ds: "Dataset", invert: bool = False
) -> tuple[np.ndarray, tuple[float, float], str | None]:
    """Apply the modality LUT in float32: values, their possible range, a note.

    With ``invert`` (MONOCHROME1) values are mirrored about the middle of that range in the same
    pass, v' = (low + high) − v, so they stay in the same interval and bone comes out bright.
    """
    lo, hi = stored_range(ds, arr)
    note = None
    if ds.get("ModalityLUTSequence"):
        pixels, (lo, hi), note = _modality_lut_sequence(arr, ds, lo, hi)
        slope, intercept = 1.0, 0.0
    else:
        slope, intercept = rescale_of(ds)
        pixels = arr.astype(np.float32, copy=arr.dtype != np.float32 or not arr.flags.writeable)
    low, high = sorted((lo * slope + intercept, hi * slope + intercept))
    if invert:
        # One pass when slope is 1: v' = (low + high − intercept) − slope · stored.
        offset = np.float32(low + high - intercept)
        if slope != 1.0:
            pixels *= np.float32(-slope)
            pixels += offset
        else:
            np.subtract(offset, pixels, out=pixels)
        return pixels, (low, high), note
    if slope != 1.0:
        pixels *= np.float32(slope)
    if intercept != 0.0:
        pixels += np.float32(intercept)
    return pixels, (low, high), note


def _modality_lut_sequence(
    arr: np.ndarray, ds: "Dataset", lo: float, hi: float
) -> tuple[np.ndarray, tuple[float, float], str | None]:
    from pydicom.pixels import apply_modality_lut

    try:
        out = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
        ends = np.asarray(apply_modality_lut(np.array([lo, hi]).astype(arr.dtype), ds))
        return out, (float(ends.min()), float(ends.max())), None
    except Exception:  # a malformed LUT: show stored values rather than nothing
        return arr.astype(np.float32), (lo, hi), "invalid Modality LUT Sequence ignored"


def header_window(ds: "Dataset") -> tuple[Window | None, str]:
    """The initial window from WindowCenter/Width (first of several) or the VOI LUT Sequence."""
    window = _first_window(ds)
    if window is not None:
        return window, "window from the header"
    if ds.get("VOILUTSequence"):
        window = _window_from_voi_lut(ds)
        if window is not None:
            return window, "window derived from the VOI LUT Sequence (linear approximation)"
    return None, ""


def _first_window(ds: "Dataset") -> Window | None:
    source: Any = ds
    if "WindowCenter" not in ds:
        source = _shared_group(ds, "FrameVOILUTSequence")
        if source is None:
            return None
    try:
        centers, widths = source.get("WindowCenter"), source.get("WindowWidth")
        center = float(centers[0] if _is_multi(centers) else centers)
        width = float(widths[0] if _is_multi(widths) else widths)
        return Window(center, width)
    except (TypeError, ValueError, IndexError):
        return None


def _is_multi(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def _window_from_voi_lut(ds: "Dataset") -> Window | None:
    """Inputs over which the first VOI LUT climbs from 1 % to 99 % of its output range."""
    from pydicom.pixels import apply_voi

    try:
        descriptor = ds.VOILUTSequence[0].LUTDescriptor
        entries = int(descriptor[0]) or 65536
        first = int(descriptor[1])
        ramp = np.arange(first, first + entries, dtype=np.int64)
        out = np.asarray(apply_voi(ramp, ds, 0), dtype=np.float64)
    except Exception:  # a malformed LUT must not stop the image from loading
        return None
    low, high = float(out.min()), float(out.max())
    if high <= low:
        return None
    t = (out - low) / (high - low)
    if out[-1] < out[0]:
        t = 1.0 - t
    inside = np.flatnonzero((t > _VOI_LUT_CUT) & (t < 1.0 - _VOI_LUT_CUT))
    if inside.size < 2:
        return None
    return Window.from_range(float(ramp[inside[0]]), float(ramp[inside[-1]]))


def _pair(source: Any, keyword: str) -> tuple[float, float] | None:
    try:
        values = [float(v) for v in source.get(keyword)]
    except (TypeError, ValueError):
        return None
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return values[0], values[1]


def _magnification(ds: "Dataset") -> float | None:
    try:
        value = float(ds.get("EstimatedRadiographicMagnificationFactor"))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def pixel_spacing(
    ds: "Dataset",
) -> tuple[tuple[float, float] | None, SpacingSource, float | None, str | None]:
    """(spacing (row, col) mm, source, magnification used, note) following PS3.3 §10.7.1.3."""
    spacing = _pair(ds, "PixelSpacing")
    if spacing is None:
        measures = _shared_group(ds, "PixelMeasuresSequence")
        spacing = _pair(measures, "PixelSpacing") if measures is not None else None
    imager = _pair(ds, "ImagerPixelSpacing")
    calibrated = "PixelSpacingCalibrationType" in ds
    # PixelSpacing that merely copies ImagerPixelSpacing without a calibration is at the detector.
    copies_imager = imager is not None and spacing is not None and not calibrated and all(
        abs(a - b) < 1e-6 for a, b in zip(spacing, imager))
    if spacing is not None and not copies_imager:
        return spacing, SpacingSource.PIXEL_SPACING, None, None
    if imager is not None:
        mag = _magnification(ds)
        if mag is not None:
            return (imager[0] / mag, imager[1] / mag), SpacingSource.IMAGER_CORRECTED, mag, None
        return imager, SpacingSource.IMAGER, None, (
            "spacing at the detector (ImagerPixelSpacing): distances include geometric "
            "magnification")
    nominal = _pair(ds, "NominalScannedPixelSpacing")
    if nominal is not None:
        return nominal, SpacingSource.NOMINAL, None, "spacing of the film digitiser (nominal)"
    return None, SpacingSource.NONE, None, "no pixel spacing: ratios only"


def header_text(ds: "Dataset", keyword: str) -> str:
    """A header string stripped, or "" when absent or undecodable."""
    try:
        value = ds.get(keyword)
        return "" if value is None else str(value).strip()
    except Exception:  # odd character sets must not stop a load
        return ""


def _int_or_none(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def patient_info(ds: "Dataset") -> PatientInfo:
    """Demographics and descriptors from the header (empty strings where absent)."""
    return PatientInfo(
        patient_name=header_text(ds, "PatientName"),
        patient_id=header_text(ds, "PatientID"),
        patient_sex=header_text(ds, "PatientSex"),
        patient_birth_date=header_text(ds, "PatientBirthDate"),
        study_date=header_text(ds, "StudyDate"),
        study_description=header_text(ds, "StudyDescription"),
        series_description=header_text(ds, "SeriesDescription"),
        accession_number=header_text(ds, "AccessionNumber"),
        modality=header_text(ds, "Modality"),
        series_number=_int_or_none(ds.get("SeriesNumber")),
    )


def source_ref(ds: "Dataset", path: str, frame_number: int | None = None) -> SourceRef:
    """UIDs that let exports reference this image."""
    def uid(keyword: str) -> str | None:
        return header_text(ds, keyword) or None

    return SourceRef(
        path=os.fspath(path),
        sop_instance_uid=uid("SOPInstanceUID"),
        sop_class_uid=uid("SOPClassUID"),
        series_instance_uid=uid("SeriesInstanceUID"),
        study_instance_uid=uid("StudyInstanceUID"),
        frame_number=frame_number,
    )


def radiograph_from_dataset(ds: "Dataset", path: str, frame: int = 0) -> Radiograph:
    """Build a bone-bright, windowed Radiograph from one frame of a DICOM dataset."""
    frames = number_of_frames(ds)
    notes: list[str] = []
    arr = decode_pixels(ds, path, frame=frame if frames > 1 else None)
    if frames > 1:
        notes.append(f"multi-frame file: showing frame {frame + 1} of {frames}")
    grey, colour_note = to_grey(arr, ds)
    if colour_note:
        notes.append(colour_note)
    if grey.ndim != 2 or min(grey.shape) < 2:
        raise LoadError(path, f"not a 2-D image (decoded shape {arr.shape})")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    invert = photometric == "MONOCHROME1" and not colour_note
    if colour_note:
        pixels, value_range = grey, (0.0, float(np.iinfo(arr.dtype).max)
                                     if arr.dtype.kind in "ui" else float(grey.max()))
        window, window_note = None, ""
    else:
        pixels, value_range, lut_note = modality_values(grey, ds, invert=invert)
        notes.append(lut_note or "")
        window, window_note = header_window(ds)
        if window is not None and invert:  # header windows are in un-inverted values
            window = Window(value_range[0] + value_range[1] - window.center, window.width)
    if window is None:
        window, window_note = Window.from_percentiles(pixels), "no window in the header: automatic"
        if window.width < 1e-3:  # a flat image: show the whole possible range instead
            window = Window.from_range(*value_range)
    notes.append(window_note)
    if invert:
        notes.append("MONOCHROME1 inverted so that bone is bright")
    return _finish_radiograph(ds, path, pixels, window, invert, notes,
                              frame + 1 if frames > 1 else None)


def _finish_radiograph(
    ds: "Dataset", path: str, pixels: np.ndarray, window: Window, inverted: bool,
    notes: list[str], frame_number: int | None,
) -> Radiograph:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if header_text(ds, "SOPClassUID") == DX_FOR_PROCESSING:
        notes.append("DX for processing: raw detector values, not meant for display")
    spacing, source, magnification, spacing_note = pixel_spacing(ds)
    if spacing_note:
        notes.append(spacing_note)
    return Radiograph(
        pixels=pixels, spacing_mm=spacing, spacing_source=source, window=window,
        source=source_ref(ds, path, frame_number), patient=patient_info(ds),
        photometric=photometric or "MONOCHROME2", inverted_on_load=inverted,
        magnification_factor=magnification, notes=tuple(n for n in notes if n),
    )


def load_radiograph(path: str | os.PathLike[str], frame: int = 0) -> Job[Radiograph]:
    """Job: read one DICOM file and return one frame of it as a Radiograph."""
    path = os.fspath(path)
    yield Progress("read", 0.0, "reading DICOM file")
    ds = read_dataset(path)
    yield Progress("decode", 0.2, "decoding pixels")
    try:
        image = radiograph_from_dataset(ds, path, frame)
    except MemoryError:
        raise LoadError(path, "not enough memory to load the image") from None
    except LoadError:
        raise
    except Exception as exc:  # last guard: a damaged header must never surface as a traceback
        raise LoadError(path, f"invalid image: {describe(exc)}") from None
    yield Progress("decode", 1.0, "image ready")
    return image
