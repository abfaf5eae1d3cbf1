"""Progress generators run to their end: the one helper for the library's step-by-step work.

Long work is written as a generator that yields progress events and *returns* its result
(stardist-napari's pattern): a dock's thread worker forwards each event to a progress bar,
while a script that needs only the result calls :func:`run_to_end`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

ResultT = TypeVar("ResultT")


def run_to_end(steps: Generator[Any, None, ResultT]) -> ResultT:
    """Run ``steps`` to its end, dropping its events; returns what it returned."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value
