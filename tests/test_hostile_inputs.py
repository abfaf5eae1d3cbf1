"""Crafted files fed to every entry point end in napari-ifss's own error and write nothing.

Entry points: the API (``open_image``, ``load_session``, ``read_scores_csv``), the command
line (``ifss view``, ``ifss propagate``, ``ifss score``), the napari reader
(``get_reader(path)(path)``) and session restore. Files: truncated, header-corrupted,
huge-claiming and wrong-dtype TIFF / OME-TIFF / NIfTI (.nii, .nii.gz) / NRRD / MHA / MHD /
DICOM series; headers naming pixel files outside their folder; session JSON with wrong types,
missing or unknown entries, huge numbers and links out of the session folder; score CSVs with
garbage. The only acceptable outcome is an :class:`IfssError` whose one-line message names the
file (on the command line: exit status 1, one ``ifss: error:`` line, no traceback), and no
output file.
"""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import tifffile

import napari_ifss
from napari_ifss._napari.readers import get_reader
from napari_ifss.cli import main
from napari_ifss.core.errors import IfssError, InvalidInputError, ReadError
from napari_ifss.core.interactive import session_record
from napari_ifss.core.interactive.session_store import LABELS_FILE, SESSION_FILE, save_session
from napari_ifss.core.io import guards
from napari_ifss.core.quality.quality_volume import read_scores_csv
from test_io_dicom import write_dicom_series

VOLUME = (np.arange(4 * 16 * 16) % 251).astype(np.uint16).reshape(4, 16, 16)
HUGE = 100_000  # a header claiming HUGE**3 voxels (or the format's largest) must be refused
REAL_MEMORY_LIMIT = guards.memory_limit

# -- building hostile files ---------------------------------------------------------------
FILE_KINDS = ["tif", "ome.tif", "nii", "nii.gz", "nrrd", "mha", "mhd", "dicom"]


def valid_file(kind: str, folder: Path, name: str = "image") -> Path:
    """A small valid volume written by napari-ifss (DICOM: by SimpleITK, as a scanner would)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "dicom":
        write_dicom_series(folder / name, VOLUME.astype(np.int16), "1.2.826.0.1.3680043.2.99",
                           "hostile")
        return folder / name
    path = folder / f"{name}.{kind}"
    napari_ifss.save(path, VOLUME, labels=False)
    return path


def _pixel_part(path: Path) -> Path:
    """The file holding the pixels (the .zraw of a .mhd, a slice of a DICOM series)."""
    if path.is_dir():
        return sorted(path.glob("*.dcm"))[1]
    if path.suffix == ".mhd":
        return path.with_suffix(".zraw")
    return path


def _patch_tiff_tags(path: Path, values: dict[str, int]) -> None:
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tf:
        for page in tf.pages:
            for tag in page.tags.values():
                if tag.name in values:
                    fmt = {3: "<H", 4: "<I", 16: "<Q"}[int(tag.dtype)]
                    struct.pack_into(fmt, raw, tag.valueoffset, values[tag.name])
    path.write_bytes(bytes(raw))


def _edit_nifti(path: Path, edit: Callable[[bytearray], None]) -> None:
    gz = path.name.endswith(".gz")
    raw = bytearray(gzip.decompress(path.read_bytes()) if gz else path.read_bytes())
    edit(raw)
    path.write_bytes(gzip.compress(bytes(raw)) if gz else bytes(raw))


def _replace_text(path: Path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert old in raw, (path, old)
    path.write_bytes(raw.replace(old, new, 1))


def _dicom_tag(raw: bytes, group: int, element: int) -> int:
    """Offset of the 2-byte value of a US tag in an implicit-VR little-endian DICOM file."""
    return raw.index(struct.pack("<HHI", group, element, 2)) + 8


def truncate(path: Path) -> None:
    part = _pixel_part(path)
    raw = part.read_bytes()
    part.write_bytes(raw[: len(raw) * 6 // 10])


def corrupt_header(path: Path) -> None:
    """Damage the header so that the file cannot be parsed (not merely odd values)."""
    if path.is_dir():  # a slice whose DICM magic is gone: GDCM would silently skip it
        part = _pixel_part(path)
        raw = bytearray(part.read_bytes())
        raw[128:132] = b"DXCM"
        part.write_bytes(bytes(raw))
    elif path.name.endswith(".tif"):  # first IFD offset far beyond the end of the file
        raw = bytearray(path.read_bytes())
        raw[7] ^= 0x80
        path.write_bytes(bytes(raw))
    elif ".nii" in path.name:  # an unknown datatype code
        _edit_nifti(path, lambda raw: struct.pack_into("<h", raw, 70, 12345))
    elif path.suffix == ".nrrd":
        _replace_text(path, b"NRRD", b"ORRD")
    else:  # MetaImage without DimSize
        _replace_text(path, b"DimSize", b"EimSize")


def claim_huge(path: Path) -> None:
    """Make the header claim far more voxels than any computer holds."""
    if path.is_dir():  # DICOM Rows/Columns are 16 bit: see test_huge_dicom_series_is_refused
        for part in sorted(path.glob("*.dcm")):
            raw = bytearray(part.read_bytes())
            for element in (0x0010, 0x0011):
                struct.pack_into("<H", raw, _dicom_tag(raw, 0x0028, element), 65535)
            part.write_bytes(bytes(raw))
    elif path.name.endswith(".tif"):
        _patch_tiff_tags(path, {"ImageWidth": 3_000_000, "ImageLength": 3_000_000,
                                "RowsPerStrip": 3_000_000})
    elif ".nii" in path.name:  # NIfTI-1 dimensions are int16: 32767**3
        _edit_nifti(path, lambda raw: struct.pack_into("<8h", raw, 40, 3, 32767, 32767, 32767,
                                                       1, 1, 1, 1))
    elif path.suffix == ".nrrd":
        _replace_text(path, b"sizes: 16 16 4", f"sizes: {HUGE} {HUGE} {HUGE}".encode())
    else:
        _replace_text(path, b"DimSize = 16 16 4", f"DimSize = {HUGE} {HUGE} {HUGE}".encode())


CASES: dict[str, Callable[[Path], None]] = {
    "truncated": truncate, "corrupt header": corrupt_header, "huge header": claim_huge,
}
# (kind, case, the words the message must contain)
EXPECTED = {
    "truncated": "truncated|could not read|cannot be read|damaged",
    "corrupt header": "could not read|not a NRRD|cannot be read|damaged MetaImage header",
    "huge header": "more than this computer's memory",
}


def hostile_file(kind: str, case: str, folder: Path) -> Path:
    path = valid_file(kind, folder)
    CASES[case](path)
    return path


def wrong_dtype_file(kind: str, folder: Path) -> Path:
    """Complex pixels (TIFF, NIfTI) or 2-component vectors (MetaImage, NRRD)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"image.{kind}"
    cplx = (VOLUME + 1j * VOLUME).astype(np.complex64)
    if kind.endswith("tif"):
        tifffile.imwrite(path, cplx, photometric="minisblack")
    elif kind.startswith("nii"):
        sitk.WriteImage(sitk.GetImageFromArray(cplx), str(path))
    else:
        vec = np.stack([VOLUME, VOLUME], axis=-1)
        sitk.WriteImage(sitk.GetImageFromArray(vec, isVector=True), str(path))
    return path


@pytest.fixture(autouse=True)
def _small_memory_limit(monkeypatch):
    """Reads may allocate at most 256 MiB here: no test allocates more on a shared machine,
    whatever a header claims (the 'huge' headers are refused with the real limit too)."""
    monkeypatch.setattr(guards, "memory_limit", lambda: 256 * 2**20)


# -- entry points -------------------------------------------------------------------------
def _one_line(message: str) -> str:
    assert message and "\n" not in message.strip() and "Traceback" not in message, message
    return message


def api_open(path: Path) -> str:
    with pytest.raises(IfssError) as err:
        napari_ifss.open_image(path)
    return _one_line(str(err.value))


def napari_reader(path: Path) -> str:
    reader = get_reader(str(path))
    assert reader is not None, "the reader claims our formats (and DICOM folders)"
    with pytest.raises(IfssError) as err:
        reader(str(path))
    return _one_line(str(err.value))


def _cli(args: list[str], capsys, outputs: list[Path]) -> str:
    before = {p: p.read_bytes() if p.exists() else None for p in outputs}
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("ifss: error: ") and _one_line(err)
    for p, content in before.items():
        assert (p.read_bytes() if p.exists() else None) == content, f"{p} was written"
    return err


def cli_propagate(path: Path, capsys, valid: Path) -> str:
    out = valid.parent / "out_labels.nii.gz"
    support = valid.parent / "support_labels.tif"
    return _cli(["propagate", str(path), "--support", str(support), "--out", str(out), "-q"],
                capsys, [out])


def cli_propagate_support(path: Path, capsys, valid: Path) -> str:
    """The hostile file as the labels (``--support``) of a valid image."""
    out = valid.parent / "out_labels.tif"
    return _cli(["propagate", str(valid), "--support", str(path), "--out", str(out), "-q"],
                capsys, [out])


def cli_score(path: Path, capsys, valid: Path) -> str:
    csv = valid.parent / "scores.csv"
    support = valid.parent / "support_labels.tif"
    return _cli(["score", str(path), "--labels", str(support), "--support", str(support),
                 "--csv", str(csv), "-q"], capsys, [csv])


@pytest.fixture()
def cli_inputs(tmp_path) -> Path:
    """A valid image and support labels for the command-line cases; returns the image."""
    folder = tmp_path / "valid"
    image = valid_file("tif", folder)
    support = np.zeros(VOLUME.shape, np.uint16)
    support[1, 4:9, 4:9] = 1
    napari_ifss.save(folder / "support_labels.tif", support)
    return image


ENTRY_POINTS = {"open_image": api_open, "napari reader": napari_reader}
CLI_ENTRY_POINTS = {"ifss propagate IMAGE": cli_propagate,
                    "ifss propagate --support": cli_propagate_support, "ifss score": cli_score}


def _names_the_file(message: str, path: Path) -> None:
    assert path.name in message or path.parent.name in message, message


# -- files x entry points -----------------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_damaged_files_end_in_our_error(tmp_path, kind, case, entry):
    path = hostile_file(kind, case, tmp_path / "in")
    message = ENTRY_POINTS[entry](path)
    _names_the_file(message, path)
    assert any(word in message for word in EXPECTED[case].split("|")), message


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("entry", list(CLI_ENTRY_POINTS))
def test_damaged_files_on_the_command_line(tmp_path, capsys, cli_inputs, kind, case, entry):
    path = hostile_file(kind, case, tmp_path / "in")
    message = CLI_ENTRY_POINTS[entry](path, capsys, cli_inputs)
    _names_the_file(message, path)


@pytest.mark.parametrize("kind", ["tif", "ome.tif", "nii", "nii.gz", "nrrd", "mha"])
def test_wrong_pixel_types_are_refused(tmp_path, capsys, cli_inputs, kind):
    path = wrong_dtype_file(kind, tmp_path / "in")
    for entry in (api_open, napari_reader):
        message = entry(path)
        _names_the_file(message, path)
        assert ("complex" if kind.endswith(("tif", "nii", "nii.gz")) else "colour channels"
                ) in message
    _names_the_file(cli_propagate(path, capsys, cli_inputs), path)


def test_huge_headers_are_refused_with_the_real_memory_limit(tmp_path, monkeypatch):
    """Without the fixture's small limit: the claim exceeds any computer's memory."""
    monkeypatch.setattr(guards, "memory_limit", REAL_MEMORY_LIMIT)
    for kind in ["tif", "ome.tif", "nii", "nii.gz", "nrrd", "mha", "mhd"]:
        path = hostile_file(kind, "huge header", tmp_path / kind)
        with pytest.raises(ReadError, match="more than this computer's memory"):
            napari_ifss.open_image(path)


def test_huge_headers_are_refused_before_allocating(tmp_path):
    """Python-side allocations while refusing a huge TIFF stay tiny (ITK's allocations are
    not traced, but its header is checked before ITK reads pixels, see itk_checks)."""
    import tracemalloc

    path = hostile_file("tif", "huge header", tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ReadError, match="memory"):
            napari_ifss.open_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_huge_dicom_series_is_refused(tmp_path):
    """DICOM sizes are 16 bit (65535 x 65535 x 4 int16 = 32 GiB): refused above the
    (here 256 MiB) memory limit, before GDCM allocates anything."""
    path = hostile_file("dicom", "huge header", tmp_path)
    with pytest.raises(ReadError, match="more than this computer's memory"):
        napari_ifss.open_image(path)


@pytest.mark.parametrize("kind", ["mhd", "nrrd"])
@pytest.mark.parametrize("target", ["../outside.raw", "/etc/passwd", "sub/x.raw", "LIST",
                                    "slice%03d.raw 1 4 1", "link"])
def test_pixel_files_outside_the_header_folder_are_refused(tmp_path, kind, target):
    folder = tmp_path / "in"
    folder.mkdir()
    outside = tmp_path / "outside.raw"
    outside.write_bytes(VOLUME.tobytes())
    if target == "link":
        (folder / "link").symlink_to(outside)
    path = folder / f"image.{kind}"
    if kind == "mhd":
        path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 16 16 4\n"
                        f"ElementType = MET_USHORT\nElementDataFile = {target}\n")
    else:
        path.write_text("NRRD0004\ntype: unsigned short\ndimension: 3\nsizes: 16 16 4\n"
                        f"encoding: raw\nendian: little\ndata file: {target}\n")
    for entry in (api_open, napari_reader):
        message = entry(path)
        assert "beside the header" in message or "outside the header's folder" in message
        _names_the_file(message, path)


def _make_pages_loop(path: Path) -> None:
    """A two-page TIFF whose second page points back to the first."""
    tifffile.imwrite(path, VOLUME[:2], photometric="minisblack")
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tf:
        first, second = tf.pages[0].offset, tf.pages[1]
        next_pointer = second.offset + 2 + 12 * len(second.tags)
    struct.pack_into("<I", raw, next_pointer, first)
    path.write_bytes(bytes(raw))


def test_tiff_whose_pages_loop_is_refused_not_followed_forever(tmp_path):
    """Found by the mutation fuzzer: tifffile follows a looping chain of pages endlessly."""
    path = tmp_path / "loop.tif"
    _make_pages_loop(path)
    for entry in (api_open, napari_reader):
        assert "chain of pages loops" in entry(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["zero.tif", "zero.nii.gz", "zero.mha"])
def test_links_to_endless_devices_are_refused_not_read_forever(tmp_path, name):
    (tmp_path / name).symlink_to("/dev/zero")
    for entry in (api_open, napari_reader):
        assert "not a regular file" in entry(tmp_path / name)
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(ReadError, match="not a regular file"):
        read_scores_csv(tmp_path / "zero.csv")


def test_metaimage_holding_fewer_pixels_than_claimed_is_refused(tmp_path):
    """ITK reads such a compressed MetaImage without complaint (garbage for the rest)."""
    path = valid_file("mha", tmp_path)
    _replace_text(path, b"DimSize = 16 16 4", b"DimSize = 160 16 4")
    with pytest.raises(ReadError, match="truncated, or its header claims more pixels"):
        napari_ifss.open_image(path)


def test_damaged_slice_is_not_silently_dropped_from_a_dicom_series(tmp_path):
    """GDCM leaves unreadable files out of the series: the volume would lose a slice."""
    path = hostile_file("dicom", "truncated", tmp_path)
    with pytest.raises(ReadError, match=r"cannot be read .*slice001\.dcm"):
        napari_ifss.open_image(path)
    with pytest.raises(ReadError):  # opening a healthy slice of the same folder, too
        napari_ifss.open_image(path / "slice000.dcm")


@pytest.mark.parametrize("dtype", ["complex64", "object", "U3", "datetime64[s]",
                                   [("a", "u1"), ("b", "f4")]])
@pytest.mark.parametrize("ext", [".tif", ".nrrd", ".nii.gz"])
def test_saving_unsupported_dtypes_writes_nothing(tmp_path, dtype, ext):
    data = np.zeros((4, 5), dtype=dtype)
    with pytest.raises(InvalidInputError, match="is not an image or labels"):
        napari_ifss.save(tmp_path / f"out{ext}", data)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.gui
@pytest.mark.parametrize("case", ["missing", "extension", "truncated", "huge header"])
def test_view_command_refuses_hostile_files(tmp_path, capsys, monkeypatch, case):
    import napari

    monkeypatch.setattr(napari, "run", lambda *a, **k: pytest.fail("napari.run was reached"))
    if case == "missing":
        path = tmp_path / "nothere.tif"
    elif case == "extension":
        path = tmp_path / "image.png"
        path.write_bytes(b"\x89PNG")
    else:
        path = hostile_file("nii.gz", case, tmp_path)
    _names_the_file(_cli(["view", str(path)], capsys, []), path)
    assert napari.current_viewer() is None  # no window left behind


# -- sessions -----------------------------------------------------------------------------
@pytest.fixture()
def session(tmp_path) -> Path:
    folder = tmp_path / "stack.tif.ifss"
    save_session(folder, labels=np.ones((2, 3, 4), np.uint16), points=[[1, 2, 3]],
                 positive=[True], image_name="stack", image_shape=(2, 3, 4),
                 metadata={"napari_ifss_propagated": {"1": ["u2:3x4:0"]}})
    return folder


def _set(*path_and_value):
    *keys, value = path_and_value

    def edit(record):
        target = record
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return edit


def _delete(key):
    return lambda record: record.pop(key)


# (name, edit of the saved JSON record or raw text, words of the message)
SESSION_CASES: list[tuple[str, object, str]] = [
    ("threshold text", _set("threshold", "abc"), "threshold"),
    ("threshold bool", _set("threshold", True), "threshold"),
    ("threshold huge", _set("threshold", 1e308), "threshold"),
    ("version text", _set("version", "1"), "version"),
    ("version float", _set("version", 1.5), "version"),
    ("version huge", _set("version", 10**100), "newer"),
    ("format missing", _delete("format"), "not a napari-ifss session"),
    ("slices missing", _delete("slices"), "missing"),
    ("labels flag missing", _delete("has_labels"), "missing"),
    ("slices not a list", _set("slices", {"0": 1}), "slices"),
    ("slice not an object", _set("slices", [[1, 2]]), "slice 0"),
    ("click too short", _set("slices", [{"key": 0, "clicks": [[1, 2]]}]), "row, col"),
    ("click coordinate text", _set("slices", [{"key": 0, "clicks": [["x", 2, True]]}]), "row"),
    ("click polarity int", _set("slices", [{"key": 0, "clicks": [[1, 2, 1]]}]), "polarity"),
    ("click huge", _set("slices", [{"key": 0, "clicks": [[10**400, 2, True]]}]), "row"),
    ("key object", _set("slices", [{"key": {"a": 1}, "clicks": []}]), "key"),
    ("key nested", _set("slices", [{"key": [[[[[[1]]]]]], "clicks": []}]), "key"),
    ("key float", _set("slices", [{"key": 1.5, "clicks": []}]), "key"),
    ("points ragged", _set("points", [[1, 2, 3], [1, 2]]), "points"),
    ("points text", _set("points", [["a", 2, 3]]), "point 0"),
    ("points 7-D", _set("points", [[1] * 7]), "points"),
    ("polarities too few", _set("positive", []), "polarities"),
    ("polarity text", _set("positive", ["yes"]), "polarity"),
    ("image not an object", _set("image", "stack"), "image"),
    ("image shape negative", _set("image", "shape", [-1, 3, 4]), "shape"),
    ("image shape float", _set("image", "shape", [1e300]), "shape"),
    ("image shape huge", _set("image", "shape", [10**30]), "shape"),
    ("image name not text", _set("image", "name", ["../../etc/passwd"]), "name"),
    ("has_labels text", _set("has_labels", "yes"), "has_labels"),
    ("saved_at number", _set("saved_at", 5), "saved_at"),
    ("metadata list", _set("metadata", [1, 2]), "metadata"),
    ("propagation record garbage", _set("metadata", "napari_ifss_propagated", {"x": 1}),
     "napari_ifss_propagated"),
    ("quality scores garbage", _set("metadata", "napari_ifss_quality", {"1": {"2": {
        "score": 7, "badge": "good"}}}), "napari_ifss_quality"),
    ("relative path entry", _set("labels_file", "../../etc/passwd"), "unexpected entries"),
    ("absolute path entry", _set("labels", "/etc/passwd"), "unexpected entries"),
    ("NaN", '{"format": "napari-ifss-session", "version": 1, "threshold": NaN}', "NaN"),
    ("Infinity", '{"format": "napari-ifss-session", "version": 1, "threshold": Infinity}',
     "Infinity"),
    ("overflowing float", None, "threshold"),  # 1e999 parses as inf
    ("deep nesting", "[" * 100_000 + "]" * 100_000, "damaged"),
    ("not an object", "[1, 2, 3]", "not a napari-ifss session"),
    ("not JSON", "{not json", "damaged"),
    ("binary", "\udcff\udcfe garbage", "damaged"),
]


@pytest.mark.parametrize(("name", "edit", "words"), SESSION_CASES,
                         ids=[c[0] for c in SESSION_CASES])
def test_hostile_session_json_is_refused(session, name, edit, words):
    path = session / SESSION_FILE
    if name == "overflowing float":
        path.write_text(path.read_text().replace('"threshold": 0.5', '"threshold": 1e999'))
    elif isinstance(edit, str):
        path.write_bytes(edit.encode("utf-8", "surrogateescape"))
    else:
        record = json.loads(path.read_text())
        edit(record)
        path.write_text(json.dumps(record))
    with pytest.raises(ReadError) as err:
        napari_ifss.load_session(session)
    message = _one_line(str(err.value))
    assert words in message and str(session.name) in message, message


def test_oversized_session_json_is_refused_unread(session, monkeypatch):
    monkeypatch.setattr(session_record, "MAX_JSON_BYTES", 100)
    with pytest.raises(ReadError, match="too large"):
        napari_ifss.load_session(session)


@pytest.mark.parametrize("which", [LABELS_FILE, SESSION_FILE])
def test_session_files_linking_outside_the_folder_are_refused(session, tmp_path, which):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(session / which, outside / which)
    (session / which).symlink_to(outside / which)
    with pytest.raises(ReadError, match="outside the session folder"):
        napari_ifss.load_session(session)


def test_session_folder_reached_through_a_link_is_fine(session, tmp_path):
    (tmp_path / "alias").symlink_to(session, target_is_directory=True)
    assert napari_ifss.load_session(tmp_path / "alias").labels.shape == (2, 3, 4)


@pytest.mark.parametrize("case", ["truncated", "huge header", "float", "complex", "missing",
                                  "pages loop"])
def test_hostile_session_labels_are_refused(session, case):
    labels = session / LABELS_FILE
    if case == "truncated":
        labels.write_bytes(labels.read_bytes()[:100])
    elif case == "huge header":
        tifffile.imwrite(labels, np.ones((2, 3, 4), np.uint16), photometric="minisblack")
        _patch_tiff_tags(labels, {"ImageWidth": 3_000_000, "ImageLength": 3_000_000,
                                  "RowsPerStrip": 3_000_000})
    elif case == "missing":
        labels.unlink()
    elif case == "pages loop":
        _make_pages_loop(labels)
    else:
        tifffile.imwrite(labels, np.ones((2, 3, 4), np.float32 if case == "float"
                                         else np.complex64), photometric="minisblack")
    with pytest.raises(ReadError) as err:
        napari_ifss.load_session(session)
    _one_line(str(err.value))
    assert session.name in str(err.value)


def test_saving_over_a_labels_link_does_not_write_through_it(session, tmp_path):
    outside = tmp_path / "victim.tif"
    outside.write_bytes(b"keep me")
    (session / LABELS_FILE).unlink()
    (session / LABELS_FILE).symlink_to(outside)
    save_session(session, labels=np.zeros((2, 2), np.uint8))
    assert outside.read_bytes() == b"keep me"
    assert not (session / LABELS_FILE).is_symlink()


# -- score CSV ----------------------------------------------------------------------------
HEADER = "slice,label_id,score,badge\n"
CSV_CASES = [
    ("empty file", "", "expected columns"),
    ("other columns", "z,id,score,badge\n1,1,0.5,good\n", "expected columns"),
    ("short row", HEADER + "1,1\n", "line 2: expected 4 values"),
    ("long row", HEADER + "1,1,0.5,good,extra\n", "line 2: expected 4 values"),
    ("slice text", HEADER + "one,1,0.5,good\n", "line 2"),
    ("slice negative", HEADER + "-1,1,0.5,good\n", "slice -1"),
    ("slice float", HEADER + "1.5,1,0.5,good\n", "whole numbers"),
    ("slice huge", HEADER + "9" * 5000 + ",1,0.5,good\n", "line 2"),
    ("label zero", HEADER + "1,0,0.5,good\n", "label_id 0"),
    ("score nan", HEADER + "1,1,nan,good\n", "score 'nan'"),
    ("score inf", HEADER + "1,1,inf,good\n", "score 'inf'"),
    ("score above 1", HEADER + "1,1,2.5,good\n", "score '2.5'"),
    ("badge unknown", HEADER + "1,1,0.5,excellent\n", "badge 'excellent'"),
    ("NUL byte", HEADER + "1,1,0.5,go\0od\n", "badge"),
    ("field too large", HEADER + "1,1,0.5," + "x" * 200_000 + "\n", "not a readable"),
    ("not UTF-8", b"\xff\xfe\x00\x01garbage", "not a readable"),
    ("formula injection", HEADER + "=cmd|' /C calc'!A0,1,0.5,good\n", "line 2"),
]


@pytest.mark.parametrize(("name", "text", "words"), CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_hostile_score_csv_is_refused(tmp_path, name, text, words):
    path = tmp_path / "scores.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises((InvalidInputError, ReadError)) as err:
        read_scores_csv(path)
    message = _one_line(str(err.value))
    assert words in message and "scores.csv" in message, message


def test_score_csv_that_is_missing_a_folder_or_oversized(tmp_path, monkeypatch):
    with pytest.raises(ReadError, match="no such file"):
        read_scores_csv(tmp_path / "none.csv")
    with pytest.raises(ReadError, match="not a readable"):
        read_scores_csv(tmp_path)
    (tmp_path / "big.csv").write_text(HEADER + "1,1,0.5,good\n" * 20)
    monkeypatch.setattr("napari_ifss.core.quality.quality_volume.MAX_CSV_BYTES", 100)
    with pytest.raises(ReadError, match="too large"):
        read_scores_csv(tmp_path / "big.csv")


def test_valid_score_csv_still_reads(tmp_path):
    (tmp_path / "ok.csv").write_text(HEADER + "3,2,0.250000,review\n\n4, 2 ,1,good\n")
    assert read_scores_csv(tmp_path / "ok.csv") == [(3, 2, 0.25, "review"), (4, 2, 1.0, "good")]


# -- nothing executes ---------------------------------------------------------------------
_UNSAFE_CALLS = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"),
                 ("marshal", "loads"), ("dill", "load"), ("dill", "loads"),
                 ("joblib", "load"), ("shelve", "open"), ("pd", "read_pickle"),
                 ("pandas", "read_pickle")}


def _unsafe_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        kwargs = {k.arg: k.value for k in node.keywords}
        if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
            found.append(func.id)
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            continue
        owner, name = func.value.id, func.attr
        if (owner, name) in _UNSAFE_CALLS:
            found.append(f"{owner}.{name}")
        if owner in ("np", "numpy") and name == "load":
            flag = kwargs.get("allow_pickle")
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                found.append("np.load(allow_pickle=...)")
        if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load"):
            found.append(f"yaml.{name}")
        if owner == "torch" and name == "load":
            flag = kwargs.get("weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append("torch.load without weights_only=True")
    return found


def test_nothing_a_user_passes_in_is_unpickled_or_executed():
    """No pickle/marshal/unsafe YAML/eval in the package, and every ``torch.load`` says
    ``weights_only=True`` (the checkpoint tests in test_safe_weights.py prove a payload does not
    run)."""
    root = Path(napari_ifss.__file__).parent
    offenders = {}
    for file in sorted(root.rglob("*.py")):
        calls = _unsafe_calls(ast.parse(file.read_text(encoding="utf-8")))
        if calls:
            offenders[str(file.relative_to(root))] = calls
    assert offenders == {}


def test_the_unsafe_call_scan_finds_what_it_looks_for():
    code = ("import pickle, numpy as np, yaml\npickle.loads(b'')\nnp.load('a', allow_pickle=True)"
            "\nyaml.load('x')\neval('1')\nnp.load('b')\nyaml.safe_load('y')\n"
            "torch.load('c')\ntorch.load('d', weights_only=False)\n"
            "torch.load('e', weights_only=True)\n")
    assert _unsafe_calls(ast.parse(code)) == ["pickle.loads", "np.load(allow_pickle=...)",
                                              "yaml.load", "eval",
                                              "torch.load without weights_only=True",
                                              "torch.load without weights_only=True"]
