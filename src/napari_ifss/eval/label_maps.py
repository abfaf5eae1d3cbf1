"""How a ground-truth mask is read for benchmarks: its ignore region and its object rule.

Interactive-segmentation benchmarks (SBD, GrabCut, DAVIS-style) mark pixels that are neither
object nor background with an *ignore value* (255 by default): such pixels count in neither the
intersection nor the union of IoU and are never clicked by the robot user. Two cases are read
differently, because there the value is clearly a label:

* a mask whose only non-zero value is the ignore value (``{0, 255}``) is a binary object mask,
  not an all-ignore mask;
* an instance map with several ids, some of them above the ignore value (e.g. a uint16 map of
  300 nuclei), keeps the ignore value as an ordinary instance id.

A mask ``{0, 1, 255}`` is object 1 with an ignore band; GrabCut's ``{0, 128, 255}`` with
ignore value 128 is object 255 with an ignore band.
"""

from __future__ import annotations

import numpy as np

DEFAULT_IGNORE_VALUE = 255
NOTE_BINARY = ("mask(s) whose only non-zero value is the ignore value {v}: read as binary "
               "object masks, not as all-ignore")
NOTE_INSTANCE_ID = ("instance map(s) with ids above the ignore value {v}: {v} read as an "
                    "ordinary instance id, not as ignore")


def ignore_region(labels: np.ndarray, ignore_value: int | None
                  ) -> tuple[np.ndarray | None, str | None]:
    """The ignored pixels of a label map and a note when the ignore value was read otherwise.

    Args:
        labels: ``(H, W)`` label map (any integer dtype).
        ignore_value: the value marking ignored pixels; None: nothing is ignored.

    Returns:
        ``(ignore, note)``: ``ignore`` is a boolean ``(H, W)`` mask, or None when no pixel is
        ignored; ``note`` is one of :data:`NOTE_BINARY`, :data:`NOTE_INSTANCE_ID` (formatted)
        when the ignore value occurs but is read as a label (see the module docstring), else
        None.
    """
    if ignore_value is None:
        return None, None
    hit = labels == ignore_value
    if not hit.any():
        return None, None
    values = np.unique(labels)
    others = values[(values != 0) & (values != ignore_value)]
    if others.size == 0:
        return None, NOTE_BINARY.format(v=ignore_value)
    if others.size >= 2 and bool((others > ignore_value).any()):
        return None, NOTE_INSTANCE_ID.format(v=ignore_value)
    return hit, None


def is_binary(labels: np.ndarray, ignore: np.ndarray | None = None) -> bool:
    """True if ``labels`` ``(H, W)`` has at most one non-zero value outside ``ignore``."""
    values = labels[~ignore] if ignore is not None else labels
    return np.unique(values[values != 0]).size <= 1
