"""Saving and restoring sessions: nothing the user did is lost, damaged files say so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_ifss.core.errors import InvalidInputError, ReadError
from napari_ifss.core.interactive.prompts import Click
from napari_ifss.core.interactive.session import InteractiveSession
from napari_ifss.core.interactive.session_store import (
    LABELS_FILE,
    SESSION_FILE,
    has_session,
    load_session,
    restore_clicks,
    save_session,
    session_folder_for,
)


class DiscSegmenter:
    """Test double: probability 1 inside a disc of radius 6 around each positive click, 0
    inside one around each negative click (later clicks win)."""

    def set_image(self, image, key=None):
        self.shape = np.shape(image)[:2]

    def predict(self, clicks, prev_mask=None):
        rr, cc = np.mgrid[: self.shape[0], : self.shape[1]]
        prob = np.zeros(self.shape, np.float32)
        for c in clicks:
            prob[(rr - c.row) ** 2 + (cc - c.col) ** 2 <= 36] = float(c.positive)
        return prob


@pytest.fixture()
def stack():
    return np.random.default_rng(0).random((5, 40, 40)).astype(np.float32)


def _session(stack):
    s = InteractiveSession(DiscSegmenter(), threshold=0.4)
    s.set_image(stack[1], key=1)
    s.add_click(10, 10)
    s.add_click(12, 14, positive=False)
    s.set_image(stack[3], key=("plane", 3))
    s.add_click(30.5, 20.25)
    return s


def test_round_trip_restores_clicks_masks_labels_and_metadata(stack, tmp_path):
    s = _session(stack)
    labels = np.zeros(stack.shape, np.uint16)
    labels[1][s.snapshot(1).mask] = 7
    folder = save_session(tmp_path / "stack.tif.ifss", session=s, labels=labels,
                          points=[[1, 10, 10], [3, 30.5, 20.25]], positive=[True, False],
                          image_name="stack", image_shape=stack.shape,
                          metadata={"propagated": {"7": [2, 3]}})
    assert has_session(folder) and not list(folder.glob(".*.tmp"))
    saved = load_session(folder)
    assert saved.image_name == "stack" and saved.image_shape == stack.shape
    assert saved.threshold == 0.4 and saved.click_count == 5
    assert np.array_equal(saved.labels, labels) and saved.labels.dtype == np.uint16
    assert saved.points.tolist() == [[1, 10, 10], [3, 30.5, 20.25]]
    assert saved.positive.tolist() == [True, False]
    assert saved.metadata == {"propagated": {"7": [2, 3]}}
    assert saved.saved_at.endswith("Z")
    fresh = InteractiveSession(DiscSegmenter())
    assert restore_clicks(fresh, saved, lambda key: stack[key if isinstance(key, int)
                                                         else key[1]]) == 3
    for key in (1, ("plane", 3)):
        assert fresh.snapshot(key).clicks == s.snapshot(key).clicks
        assert np.array_equal(fresh.snapshot(key).mask, s.snapshot(key).mask)
    assert fresh.snapshot(1).clicks[1] == Click(12, 14, False)
    fresh.set_image(stack[1], key=1)
    fresh.undo()  # the undo history is rebuilt too
    assert fresh.clicks == (Click(10, 10, True),)


def test_saving_again_without_labels_removes_stale_labels(stack, tmp_path):
    folder = save_session(tmp_path / "s", labels=np.ones((2, 3), np.int32))
    assert (folder / LABELS_FILE).exists()
    save_session(folder, session=_session(stack))
    assert load_session(folder).labels is None and not (folder / LABELS_FILE).exists()


def test_refused_saves_write_nothing(stack, tmp_path):
    s = InteractiveSession(DiscSegmenter())
    s.set_image(stack[0], key=1.5)
    s.add_click(3, 3)
    with pytest.raises(InvalidInputError, match="cannot be saved"):
        save_session(tmp_path / "a", session=s)
    with pytest.raises(InvalidInputError, match="integer dtype"):
        save_session(tmp_path / "b", labels=np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="N polarities"):
        save_session(tmp_path / "c", points=[[1, 2, 3]], positive=[True, False])
    with pytest.raises(InvalidInputError, match="JSON"):
        save_session(tmp_path / "d", metadata={"x": object()})
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_damaged_or_foreign_files_raise_read_errors(tmp_path):
    with pytest.raises(ReadError, match="missing"):
        load_session(tmp_path)
    (tmp_path / SESSION_FILE).write_text("{not json")
    with pytest.raises(ReadError, match="damaged"):
        load_session(tmp_path)
    (tmp_path / SESSION_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ReadError, match="not a napari-ifss session"):
        load_session(tmp_path)
    (tmp_path / SESSION_FILE).write_text(json.dumps({"format": "napari-ifss-session",
                                                     "version": 99}))
    with pytest.raises(ReadError, match="newer"):
        load_session(tmp_path)
    folder = save_session(tmp_path / "x", labels=np.ones((2, 2), np.uint8))
    (folder / LABELS_FILE).write_bytes(b"truncated")
    with pytest.raises(ReadError, match="incomplete or damaged"):
        load_session(folder)


def test_session_folder_sits_beside_the_image(tmp_path):
    assert session_folder_for(tmp_path / "a.ome.tif") == tmp_path / "a.ome.tif.ifss"
