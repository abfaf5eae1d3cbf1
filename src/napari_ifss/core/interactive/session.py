"""Headless interactive segmentation: clicks in, mask out, with undo and per-slice memory.

:class:`InteractiveSession` holds the clicker state around any
:class:`~napari_ifss.core.protocols.ClickSegmenter` (our deep model, a classical baseline or a
test double), the way segment-anything's predictor and RITM's clicker do::

    session = InteractiveSession()             # the shipped model, loaded on first use
    session.set_image(stack[12], key=12)       # (H, W) or (H, W, 3); encoded once per key
    mask = session.add_click(40, 61)           # positive click at (row, col) -> bool (H, W)
    mask = session.add_click(52, 70, positive=False)
    mask = session.undo()                      # back to the one-click mask, no model call
    session.set_image(stack[13], key=13)       # a fresh object state for slice 13 ...
    session.set_image(stack[12], key=12)       # ... and slice 12's clicks and mask are back

After every click the previous probability map is passed to the model as ``prev_mask`` (the
feedback). With ``keep_clicked_regions`` every predicted region that holds no positive click is
dropped (:mod:`.clicked_regions`) before it is shown and fed back. The session is not
thread-safe: drive it from one thread at a time.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..channels import Channels
from ..errors import InvalidInputError, NotReadyError
from ..normalize import IntensityWindow
from ..protocols import ClickSegmenter
from ..spans import frozen_copy
from . import clicked_regions
from .prompts import Box, Click


@dataclass(frozen=True)
class SessionState:
    """A snapshot of one slice's object: its clicks and the model's answer.

    Attributes:
        key: the slice key given to ``set_image``.
        clicks: clicks in order, newest last, in (row, col) pixels of the slice.
        probabilities: float32 (H, W) object probability (all 0 before the first click);
            a read-only copy.
        threshold: probability above which a pixel belongs to the object.
        box: the box drawn as the object's first prompt, or None.
    """

    key: Hashable
    clicks: tuple[Click, ...]
    probabilities: np.ndarray
    threshold: float
    box: Box | None = None

    @property
    def mask(self) -> np.ndarray:
        """Boolean (H, W) object mask (``probabilities > threshold``)."""
        return self.probabilities > self.threshold


def takes_window(segmenter: object) -> bool:
    """Whether ``segmenter.set_image`` accepts an intensity ``window`` (the click model does;
    the classical baselines do not)."""
    return "window" in inspect.signature(segmenter.set_image).parameters  # type: ignore[attr-defined]


ChannelWindows = tuple[IntensityWindow | None, ...]  # one window per channel


def _channel_windows(image: Channels, window: IntensityWindow | ChannelWindows | None
                     ) -> tuple[Channels | object, IntensityWindow | ChannelWindows | None]:
    """``(image, window)`` for the session: ``image`` under ``window`` (one for all channels,
    one per channel, or None: the channels' own), and the window that names that view (None
    when every channel uses its own percentiles). One channel comes back as its array and
    window.

    Raises:
        InvalidInputError: a per-channel window tuple of the wrong length.
    """
    wins = image.windows_under(window)
    if image.count == 1:
        return image.arrays[0], wins[0]
    return image.with_windows(wins), (None if all(w is None for w in wins) else wins)


@dataclass
class _SliceState:
    """Mutable per-key state; ``history[i]`` is the probability map before click ``i``."""

    shape: tuple[int, int]
    clicks: list[Click] = field(default_factory=list)
    prob: np.ndarray | None = None
    history: list[np.ndarray | None] = field(default_factory=list)
    box: Box | None = None
    window: IntensityWindow | ChannelWindows | None = None  # the intensity window its masks were made under


class InteractiveSession:
    """Click-by-click segmentation of 2D slices with undo, reset and per-slice state.

    Args:
        segmenter: any ClickSegmenter; None uses ``ClickPredictor.default()`` (the shipped
            weights), created on the first ``set_image``.
        threshold: probability above which a pixel is object (0 < threshold < 1).
        keep_clicked_regions: drop every predicted region without a positive click from the
            following predictions (stray blobs on neighbouring objects); may be changed at any
            time, and applies from the next click on.
    """

    def __init__(self, segmenter: ClickSegmenter | None = None, threshold: float = 0.5,
                 keep_clicked_regions: bool = False) -> None:
        if segmenter is not None and not isinstance(segmenter, ClickSegmenter):
            raise InvalidInputError(
                f"segmenter must provide set_image() and predict(); got {type(segmenter).__name__}"
            )
        self._segmenter = segmenter
        self._states: dict[Hashable, _SliceState] = {}
        self._key: Hashable = None
        self._current: _SliceState | None = None
        self.threshold = threshold
        self.keep_clicked_regions = bool(keep_clicked_regions)
        # the intensity window of the current slice (None: its own range)
        self.window: IntensityWindow | ChannelWindows | None = None

    # -- configuration -------------------------------------------------------------------
    @property
    def segmenter(self) -> ClickSegmenter:
        """The model in use (the shipped one is created here on first access)."""
        if self._segmenter is None:
            from .predictor import ClickPredictor  # heavy (torch): imported only when needed

            self._segmenter = ClickPredictor.default()
        return self._segmenter

    @property
    def segmenter_loaded(self) -> bool:
        """False until a default model that was not passed in has been created."""
        return self._segmenter is not None

    @property
    def threshold(self) -> float:
        """Probability above which a pixel belongs to the object (default 0.5)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        value = float(value)
        if not 0.0 < value < 1.0:
            raise InvalidInputError(f"threshold must lie strictly between 0 and 1; got {value}")
        self._threshold = value

    # -- image ---------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | Channels, key: Hashable | None = None,
                  window: IntensityWindow | ChannelWindows | None = None) -> None:
        """Make ``image`` the current slice: ``(H, W)`` grey or ``(H, W, 3|4)`` colour, or
        several channels of one slice used together (:class:`~napari_ifss.core.channels.
        Channels` of ``(H, W)`` arrays; the click model takes them, other models one channel),
        seen by the model under ``window`` (None: the slice's own intensity range, or each
        channel's own window; for channels also one window per channel; models without
        windows, e.g. the classical baselines, refuse one). A slice the model views in focus
        windows (the click model: longer than 1024 px) may be any array (zarr, dask) and is
        read region by region; others are read into memory.

        With a ``key`` seen before (and the same slice shape) that slice's clicks, mask and undo
        history come back; with ``key=None`` the state always starts empty. Another window
        for the same key predicts the slice's prompts again under it.

        Raises:
            InvalidInputError: for another shape, an empty image or NaN/inf values.
        """
        if isinstance(image, Channels):
            image, window = _channel_windows(image, window)
        elif isinstance(window, tuple):
            raise InvalidInputError("one window per channel needs several channels (Channels)")
        if isinstance(image, Channels):
            arr = self._checked_channels(image)
            self.segmenter.set_image(arr, key=key)  # each channel under its own window
            self.window = window
        else:
            arr = self._checked_slice(image)
            if window is None:
                self.segmenter.set_image(arr, key=key)
                self.window = None
            elif takes_window(self.segmenter):
                self.segmenter.set_image(arr, key=key, window=window)
                self.window = window
            else:
                raise InvalidInputError(f"{type(self.segmenter).__name__} takes no intensity "
                                        "window; leave window=None")
        shape = (int(arr.shape[0]), int(arr.shape[1]))
        state = self._states.get(key) if key is not None else None
        if state is None or state.shape != shape:
            state = _SliceState(shape, window=window)
            if key is not None:
                self._states[key] = state
        self._key, self._current = key, state
        if state.window != window:
            self._replay(state, window)

    def _large(self, shape: Sequence[int]) -> bool:
        """Whether the model views a slice of ``shape`` in focus windows (read lazily)."""
        uses_focus = getattr(self.segmenter, "uses_focus", None)
        return callable(uses_focus) and bool(uses_focus(tuple(shape)))

    def _checked_slice(self, image: object) -> np.ndarray:
        """``image`` as a checked ``(H, W)`` / ``(H, W, 3|4)`` slice (a large one as given)."""
        large = self._large(np.shape(image))
        arr = image if large and hasattr(image, "dtype") else np.asarray(image)
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4))):
            raise InvalidInputError(
                f"expected a 2D slice (H, W) or colour slice (H, W, 3|4); got shape {arr.shape}"
            )
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InvalidInputError(f"image slice is empty: shape {arr.shape}")
        if not large and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise InvalidInputError("image slice contains NaN or infinite values")
        return arr

    def _checked_channels(self, image: Channels) -> Channels:
        """Several channels of one slice, each checked as a slice, for a model that takes
        them."""
        if image.ndim != 2:
            raise InvalidInputError(f"expected the channels of one 2D slice; got shape "
                                    f"{image.shape}")
        if not getattr(self.segmenter, "takes_channels", False):
            raise InvalidInputError(f"{type(self.segmenter).__name__} uses one channel; pick "
                                    "one (the click model uses several together)")
        arrays = tuple(self._checked_slice(a) for a in image.arrays)
        return Channels(arrays, image.windows, image.names)

    def _replay(self, state: _SliceState, window: IntensityWindow | ChannelWindows | None) -> None:
        """The slice's prompts predicted again under another intensity ``window``: the box
        (or a starting mask, which is kept), then every click in order."""
        clicks, box = list(state.clicks), state.box
        start = None if box is not None else (state.history[0] if state.history else state.prob)
        self.reset()
        state.window = window
        if box is not None:
            self.set_box(box)
        elif start is not None:
            state.prob = start
        for click in clicks:
            self._predict(state, click)

    def _state(self) -> _SliceState:
        if self._current is None:
            raise NotReadyError("no image set: call set_image(slice) before clicking")
        return self._current

    # -- clicks --------------------------------------------------------------------------
    def _validated(self, click: Click, shape: tuple[int, int]) -> Click:
        row, col = float(click.row), float(click.col)
        if not (math.isfinite(row) and math.isfinite(col)):
            raise InvalidInputError(f"click {click} has a non-finite coordinate")
        if not click.inside(shape):
            raise InvalidInputError(
                f"click {click} at pixel {click.pixel} lies outside the image of shape {shape} "
                "(row, col)"
            )
        return Click(row, col, bool(click.positive))

    def _predict(self, state: _SliceState, click: Click | None) -> None:
        """Predict with the slice's clicks plus ``click`` (None: the box alone) and record."""
        clicks = [*state.clicks] + ([click] if click is not None else [])
        if state.box is None:
            prob = self.segmenter.predict(clicks, state.prob)
        else:
            prob = self.segmenter.predict(clicks, state.prob, box=state.box)  # type: ignore[call-arg]
        prob = np.asarray(prob, dtype=np.float32)
        if prob.shape != state.shape:
            raise RuntimeError(
                f"segmenter returned a map of shape {prob.shape} for a slice of shape {state.shape}"
            )
        if self.keep_clicked_regions:
            prob = clicked_regions.keep_clicked_regions(prob, clicks, self.threshold)
        if click is None:
            state.prob = frozen_copy(prob)
            return
        state.history.append(state.prob)
        state.clicks.append(click)
        state.prob = frozen_copy(prob)

    def set_box(self, box: Box) -> np.ndarray:
        """Start the current slice's object from a ``box`` dragged around it (pixel-edge
        corners, see :class:`~napari_ifss.core.interactive.prompts.Box`); later clicks correct it.

        The slice's clicks and mask are replaced; :meth:`undo` with no click left removes the
        box, :meth:`reset` clears everything.

        Raises:
            NotReadyError: if no image is set.
            InvalidInputError: the model was not trained for boxes, or the box misses the slice.
        """
        state = self._state()
        if not getattr(self.segmenter, "takes_boxes", False):
            raise InvalidInputError("this click model was not trained for box prompts; start "
                                    "the object with a click instead")
        clipped = box.clipped(state.shape)
        if clipped is None:
            raise InvalidInputError(f"box {box} does not cover a pixel of the slice of shape "
                                    f"{state.shape} (row, col)")
        self.reset()
        state.box = clipped
        self._predict(state, None)
        return self.mask

    def add_click(self, row: float, col: float, positive: bool = True) -> np.ndarray:
        """Add a click at ``(row, col)`` (pixel coordinates of the slice) and re-predict.

        Returns:
            The new boolean object mask, shape (H, W).

        Raises:
            NotReadyError: if no image is set.
            InvalidInputError: for a NaN/inf coordinate or a click outside the image.
        """
        state = self._state()
        self._predict(state, self._validated(Click(row, col, positive), state.shape))
        return self.mask

    def undo(self) -> np.ndarray:
        """Remove the newest click and restore the mask before it (no model call).

        With no clicks this is a no-op that returns the (empty) mask.
        """
        state = self._state()
        if state.clicks:
            state.clicks.pop()
            state.prob = state.history.pop()
        elif state.box is not None:  # the box was the first prompt: undo it too
            state.box, state.prob = None, None
        return self.mask

    def reset(self) -> None:
        """Forget the current slice's clicks and mask (other keys are kept)."""
        state = self._state()
        state.clicks.clear()
        state.history.clear()
        state.prob = None
        state.box = None

    def start_from_mask(self, mask: np.ndarray) -> None:
        """Make an existing object ``mask`` (H, W) the current slice's starting point.

        The slice's clicks and history are cleared and ``mask`` (bool, or a probability in
        [0, 1]) becomes its probability map, so the next click gets it as the previous-mask
        feedback and corrects it (e.g. an object found by exemplar mode). :meth:`undo` goes
        back to this mask, not further; :meth:`reset` clears it.

        Raises:
            NotReadyError: if no image is set.
            InvalidInputError: for another shape, NaN or values outside [0, 1].
        """
        state = self._state()
        prob = np.asarray(mask, dtype=np.float32)
        if prob.shape != state.shape:
            raise InvalidInputError(
                f"mask has shape {prob.shape}, the current slice has shape {state.shape}")
        if not np.all(np.isfinite(prob)) or prob.min(initial=0) < 0 or prob.max(initial=0) > 1:
            raise InvalidInputError("mask values must be finite and lie in [0, 1]")
        self.reset()
        state.prob = frozen_copy(prob)

    def set_clicks(self, clicks: Sequence[Click]) -> np.ndarray:
        """Make ``clicks`` (oldest first) the current slice's clicks; return the mask.

        Clicks shared with the current list as a common prefix are kept as they are; the rest
        are undone and the new ones replayed one by one, exactly as if clicked in order. This
        is how a GUI syncs the session with editable point prompts.
        """
        state = self._state()
        new = [self._validated(c, state.shape) for c in clicks]
        keep = 0
        while keep < min(len(new), len(state.clicks)) and new[keep] == state.clicks[keep]:
            keep += 1
        while len(state.clicks) > keep:
            self.undo()
        for click in new[keep:]:
            self._predict(state, click)
        return self.mask

    # -- per-key bookkeeping -------------------------------------------------------------
    def keys(self) -> tuple[Hashable, ...]:
        """The keys that currently hold at least one click or a box."""
        return tuple(k for k, s in self._states.items() if s.clicks or s.box is not None)

    def discard(self, key: Hashable) -> None:
        """Forget one key's state (nothing happens for an unknown key)."""
        state = self._states.pop(key, None)
        if state is not None and state is self._current:
            self._current = _SliceState(state.shape)
            self._states[key] = self._current

    def clear(self) -> None:
        """Forget every key's clicks and masks (the current image stays set)."""
        for key in list(self._states):
            self.discard(key)
        if self._current is not None and self._key is None:
            self.reset()

    def snapshot(self, key: Hashable | None = None) -> SessionState:
        """A frozen :class:`SessionState` of ``key`` (default: the current slice).

        Raises:
            NotReadyError: if no image is set, or ``key`` was never set.
        """
        if key is None:
            state, key = self._state(), self._key
        elif key in self._states:
            state = self._states[key]
        else:
            raise NotReadyError(f"no state for key {key!r}: set_image(..., key={key!r}) first")
        if state.prob is not None:
            prob = state.prob
        else:  # before any click: zeros (untouched pages, read-only)
            prob = np.zeros(state.shape, np.float32)
            prob.flags.writeable = False
        return SessionState(key, tuple(state.clicks), prob, self.threshold, state.box)

    # -- current state -------------------------------------------------------------------
    @property
    def key(self) -> Hashable:
        """The current slice's key (None when set without one)."""
        return self._key

    @property
    def clicks(self) -> tuple[Click, ...]:
        """The current slice's clicks, oldest first."""
        return tuple(self._state().clicks)

    @property
    def probabilities(self) -> np.ndarray:
        """Float32 (H, W) object probability of the current slice (zeros before any click)."""
        return self.snapshot().probabilities

    @property
    def mask(self) -> np.ndarray:
        """Boolean (H, W) object mask of the current slice (all False before any click)."""
        return self.probabilities > self.threshold
