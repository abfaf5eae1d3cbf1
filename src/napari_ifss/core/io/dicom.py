"""DICOM series (a folder of slices, or one ``.dcm`` file of a series) via SimpleITK/GDCM.

GDCM groups the files of a folder by series instance UID and sorts each series by slice
position; the series reader then gives spacing (including the slice distance), origin (the
first slice's position) and direction like any ITK image (see :mod:`.itk`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import SimpleITK as sitk

from ..errors import ReadError
from .itk import layer_from_sitk
from .itk_checks import check_dicom_series, itk_message
from .layerdata import LayerData


def list_dicom_series(folder: str | Path) -> dict[str, tuple[str, ...]]:
    """Series instance UID -> its files (sorted by slice position) for a folder."""
    d = str(folder)
    try:
        ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(d)
        return {sid: tuple(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(d, sid)) for sid in ids}
    except RuntimeError as exc:
        raise ReadError(f"{folder}: could not scan for DICOM series ({exc})") from exc


def read_dicom_series(
    path: str | Path, series_id: str | None = None, as_labels: bool = False
) -> LayerData:
    """Read one DICOM series as a 3D (or, for one slice, 2D) image.

    Args:
        path: a folder holding the series' files, or one ``.dcm`` file (its series is read).
        series_id: the series instance UID to read when the folder holds several.
        as_labels: open as labels (content must be integral).

    Raises:
        ReadError: no series found, several series and no ``series_id`` (the message lists
            them), an unknown ``series_id``, unreadable or damaged ``.dcm`` files in the
            folder, more pixels than fit in memory.
        UnsupportedFormatError: a pixel type napari-ifss does not handle.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    series = list_dicom_series(folder)
    if not series:
        raise ReadError(f"{folder}: no DICOM series found")
    if series_id is None and p.is_file():
        series_id = next((sid for sid, files in series.items()
                          if any(Path(f).resolve() == p.resolve() for f in files)), None)
        if series_id is None:
            raise ReadError(f"{p}: not part of a readable DICOM series")
    if series_id is None:
        if len(series) > 1:
            listing = "; ".join(f"{sid} ({len(files)} files{_description(files[0])})"
                                for sid, files in series.items())
            raise ReadError(f"{folder}: holds {len(series)} DICOM series, pick one by its id: "
                            f"{listing}")
        series_id = next(iter(series))
    if series_id not in series:
        raise ReadError(f"{folder}: no DICOM series {series_id!r}; found {', '.join(series)}")
    check_no_damaged_files(folder, series)
    check_dicom_series(series[series_id], f"{folder} (DICOM series {series_id})")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(series[series_id])
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise ReadError(f"{folder}: could not read DICOM series {series_id} "
                        f"({itk_message(exc)})") from exc
    layer = layer_from_sitk(image, folder, folder.name or "dicom", as_labels=as_labels)
    extra = {"series_id": series_id, "n_files": len(series[series_id])}
    return replace(layer, metadata={**layer.metadata, **extra})


def check_no_damaged_files(folder: Path, series: dict[str, tuple[str, ...]]) -> None:
    """Refuse a folder holding ``.dcm`` files that belong to no series and cannot be read.

    GDCM silently leaves unreadable files out of the series it lists, so a truncated or
    damaged slice would otherwise just be missing from the volume (with a wrong z extent).

    Raises:
        ReadError: naming the damaged files.
    """
    listed = {Path(f).resolve() for files in series.values() for f in files}
    try:
        candidates = sorted(f for f in folder.iterdir()
                            if f.suffix.lower() == ".dcm" and f.is_file())
    except OSError as exc:
        raise ReadError(f"{folder}: could not list the folder ({exc})") from exc
    damaged = [f.name for f in candidates if f.resolve() not in listed and not _readable(f)]
    if damaged:
        shown = ", ".join(damaged[:5]) + (f" and {len(damaged) - 5} more" if len(damaged) > 5
                                          else "")
        raise ReadError(f"{folder}: {len(damaged)} .dcm file(s) cannot be read and would be "
                        f"missing from the series ({shown}); they are damaged or truncated: "
                        "restore them, or move them out of the folder")


def _readable(file: Path) -> bool:
    """True when ITK can read ``file``'s header (a DICOM object outside the image series)."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(file))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return False
    return True


def _description(file: str) -> str:
    """``", <SeriesDescription>"`` of a DICOM file, or "" when it has none."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(file)
    try:
        reader.ReadImageInformation()
        if reader.HasMetaDataKey("0008|103e"):
            return f", {reader.GetMetaData('0008|103e').strip()}"
    except RuntimeError:
        pass
    return ""
