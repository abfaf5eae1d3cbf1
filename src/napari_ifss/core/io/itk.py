"""NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) and NRRD via SimpleITK.

ITK gives spacing/origin in ``(x, y, z)`` order and pixel arrays in ``(z, y, x)``; both are
converted with :mod:`napari_ifss.core.coords` so that ``scale``/``translate`` follow the data
order. Coordinates are ITK's physical (LPS) coordinates, also for NIfTI. A non-identity
direction matrix (rotated or flipped axes, common in clinical NIfTI/DICOM) is kept in
:attr:`LayerData.direction` (data order) and written back; the napari adapter turns it into
the layer's ``affine``. Vector pixels with 3 or 4 components open as RGB(A).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..coords import array_to_itk_order, itk_to_array_order
from ..errors import InvalidInputError, ReadError, WriteError
from .detect import extension_of
from .dims import kept_axes, to_supported
from .itk_checks import check_itk_file, itk_message
from .labels import labels_or_image, looks_like_labels
from .layerdata import LayerData, is_identity, source_name


def read_itk(path: str | Path, as_labels: bool = False) -> LayerData:
    """Read a NIfTI/MetaImage/NRRD file.

    Raises:
        ReadError: unreadable, truncated or corrupt file; a header claiming more pixels than
            fit in memory or a pixel file outside the header's folder (see :mod:`.itk_checks`).
        UnsupportedFormatError: more dimensions than 3D / 2D RGB after squeezing singletons;
            complex or other pixel types.
        InvalidInputError: ``as_labels`` with non-integral content.
    """
    p = Path(path)
    check_itk_file(p)
    try:
        image = sitk.ReadImage(str(p))
    except RuntimeError as exc:
        raise ReadError(f"{p}: could not read ({itk_message(exc)})") from exc
    if extension_of(p) in (".nii", ".nii.gz"):  # NIfTI stores geometry as float32
        image.SetSpacing(tuple(_float32_decimal(v) for v in image.GetSpacing()))
        image.SetOrigin(tuple(_float32_decimal(v) for v in image.GetOrigin()))
    return layer_from_sitk(image, p, source_name(p), as_labels=as_labels,
                           labels_by_name=looks_like_labels(p))


def layer_from_sitk(
    image: sitk.Image, source: Path, name: str, as_labels: bool = False,
    labels_by_name: bool = False,
) -> LayerData:
    """Convert a SimpleITK image into a :class:`LayerData` (data order ``(Z, Y, X)``)."""
    try:
        data = sitk.GetArrayFromImage(image)
    except RuntimeError as exc:
        raise ReadError(f"{source}: could not decode pixels ({itk_message(exc)})") from exc
    dim = image.GetDimension()
    colour = image.GetNumberOfComponentsPerPixel() > 1
    scale = itk_to_array_order(image.GetSpacing())
    origin = itk_to_array_order(image.GetOrigin())
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)[::-1, ::-1]
    keep = kept_axes(data.shape[:dim])
    data, scale_t, trans_t, rgb = to_supported(data, scale, origin, colour, what=str(source))
    direction = direction[np.ix_(keep, keep)]
    data, kind = labels_or_image(data, rgb, labels_by_name, as_labels, str(source))
    metadata = {"source": str(source)}
    direction_t = None
    if not is_identity(direction):
        direction_t = tuple(tuple(float(v) for v in row) for row in direction)
        metadata["direction"] = direction_t
    return LayerData(data, kind, name, scale_t, trans_t, rgb=rgb, direction=direction_t,
                     metadata=metadata)


def write_itk(path: str | Path, layer: LayerData) -> list[Path]:
    """Write ``layer`` with SimpleITK (compressed where the format allows).

    Returns:
        The files written: ``[path]``, or for ``.mhd`` the header and its pixel file.

    Raises:
        InvalidInputError: a direction matrix that is not orthonormal.
        WriteError: ITK could not write the file.
    """
    p = Path(path)
    data = np.asarray(layer.data)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif data.dtype == np.float16:
        data = data.astype(np.float32)
    image = sitk.GetImageFromArray(np.ascontiguousarray(data), isVector=layer.rgb)
    image.SetSpacing(array_to_itk_order(layer.scale))
    image.SetOrigin(array_to_itk_order(layer.translate))
    if layer.direction is not None:
        d = np.asarray(layer.direction, dtype=float)
        if not np.allclose(d @ d.T, np.eye(d.shape[0]), atol=1e-6):
            raise InvalidInputError(f"{layer.name}: direction {layer.direction} is not a "
                                    "rotation/flip (orthonormal) and cannot be saved")
        image.SetDirection(tuple(d[::-1, ::-1].ravel()))
    compress = extension_of(p) != ".nii"  # .nii.gz is gzipped by its name
    try:
        sitk.WriteImage(image, str(p), useCompression=compress)
    except RuntimeError as exc:
        raise WriteError(f"{p}: could not write ({itk_message(exc)})") from exc
    written = [p]
    if extension_of(p) == ".mhd":
        written.append(p.parent / _mhd_data_file(p))
    return written


def _mhd_data_file(header: Path) -> str:
    """The ``ElementDataFile`` named in a MetaImage header."""
    for line in header.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ElementDataFile":
            return value.strip()
    raise WriteError(f"{header}: no ElementDataFile in the written header")


def _float32_decimal(value: float) -> float:
    """The shortest decimal that a float32 header value stands for (0.3499999940 -> 0.35)."""
    return float(str(np.float32(value)))
