"""Mutation fuzzing of every reader: valid files with flipped, cut or inserted bytes.

Each format starts from a small valid file written by napari-ifss itself (DICOM: by SimpleITK,
as napari-ifss writes no DICOM) and feeds hypothesis' mutations of it to ``open_image``. The
only acceptable outcomes are an array read, or napari-ifss's own error: never another exception
type, never a hang (a watchdog ends the run with a traceback after ``HANG_SECONDS``). The budget
is fixed (``derandomize``, no example database) and the whole file runs in well under 30 s, so
it runs in CI like any other test.
"""

from __future__ import annotations

import faulthandler
import shutil
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import napari_ifss
from napari_ifss.core.errors import IfssError
from napari_ifss.core.io import guards
from test_io_dicom import write_dicom_series

HANG_SECONDS = 60
MEMORY_LIMIT = 64 * 2**20  # mutated headers may claim anything: no example allocates more
VOLUME = (np.arange(3 * 12 * 10) * 7 % 1000).astype(np.uint16).reshape(3, 12, 10)
FORMATS = {"tif": 80, "imagej.tif": 40, "nii": 60, "nii.gz": 60, "nrrd": 60, "mha": 60,
           "mhd": 50, "dicom": 40}  # format -> examples (about 10 ms each)
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# one mutation: flip a bit, cut the file, or insert bytes; positions favour the header
positions = st.one_of(st.integers(0, 511), st.integers(0, 2**20))
mutation = st.one_of(
    st.tuples(st.just("flip"), positions, st.integers(0, 7)),
    st.tuples(st.just("cut"), positions, st.just(0)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=8)),
)
mutations = st.lists(mutation, min_size=1, max_size=3)


def mutate(raw: bytes, ops) -> bytes:
    """Apply ``ops`` to ``raw`` (positions taken modulo its length)."""
    data = bytearray(raw)
    for op, pos, arg in ops:
        if not data:
            break
        pos %= len(data)
        if op == "flip":
            data[pos] ^= 1 << arg
        elif op == "cut":
            del data[pos:]
        else:
            data[pos:pos] = arg
    return bytes(data)


def write_valid(kind: str, folder: Path) -> Path:
    """The valid file (or DICOM folder) to mutate."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "dicom":
        write_dicom_series(folder / "ct", VOLUME.astype(np.int16), "1.2.826.0.1.3680043.2.7",
                           "fuzz")
        return folder / "ct"
    path = folder / f"image.{kind}"
    if kind == "imagej.tif":  # ImageJ metadata: another geometry parser
        tifffile.imwrite(path, VOLUME, imagej=True, resolution=(2.0, 2.0),
                         metadata={"spacing": 3.0, "unit": "um", "axes": "ZYX"})
    else:
        napari_ifss.save(path, VOLUME, labels=False)
    return path


def target_file(path: Path) -> Path:
    """The file to mutate: the header of a .mhd, one slice of a DICOM series."""
    return sorted(path.glob("*.dcm"))[1] if path.is_dir() else path


def read_or_refuse(path: Path) -> None:
    """The property: an array, or napari-ifss's error."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # label-name guesses, tifffile notes
            layer = napari_ifss.open_image(path)
    except IfssError as err:
        assert str(err), "an error must say what is wrong"
        return
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert isinstance(layer.data, np.ndarray) and layer.data.size > 0
    assert layer.data.dtype.kind in "biuf"


@pytest.mark.parametrize("kind", list(FORMATS))
def test_mutated_files_read_or_raise_our_error(tmp_path, kind):
    valid = write_valid(kind, tmp_path / "valid")
    original = target_file(valid).read_bytes()
    work = tmp_path / "work"

    @settings(FUZZ, max_examples=FORMATS[kind])
    @given(ops=mutations)
    def check(ops):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(valid.parent, work)
        path = work / valid.name
        target_file(path).write_bytes(mutate(original, ops))
        read_or_refuse(path)

    with mock.patch.object(guards, "memory_limit", lambda: MEMORY_LIMIT):
        check()


def test_the_valid_files_read(tmp_path):
    for kind in FORMATS:
        layer = napari_ifss.open_image(write_valid(kind, tmp_path / kind))
        np.testing.assert_array_equal(layer.data, VOLUME.astype(layer.data.dtype))


def test_mutate():
    raw = bytes(range(10))
    assert mutate(raw, [("flip", 12, 0)]) == bytes([0, 1, 3, *range(3, 10)])
    assert mutate(raw, [("cut", 4, 0)]) == bytes(range(4))
    assert mutate(raw, [("insert", 1, b"ab")]) == b"\x00ab" + bytes(range(1, 10))
    assert mutate(b"", [("flip", 0, 1)]) == b""
