"""Benchmark reports: a machine-readable JSON and a markdown table, shared by all benchmarks.

A report is a dict; :func:`machine_info` and :func:`command_line` describe where and how it was
measured. :func:`markdown_table` formats rows of dicts; :func:`write_report` writes both files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU, core count, torch threads and library versions of this run."""
    import scipy
    import skimage
    import torch

    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }


def command_line(argv: Sequence[str] | None = None, prog: str = "ifss") -> str:
    """The command as typed: ``prog`` followed by ``argv`` (default ``sys.argv[1:]``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([prog, *map(shlex.quote, args)])


def _fmt(value: object, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def markdown_table(
    rows: Sequence[Mapping[str, object]], columns: Sequence[tuple[str, str]],
    digits: int | Mapping[str, int] = 2,
) -> str:
    """A GitHub markdown table.

    Args:
        rows: one mapping per row.
        columns: ``(key, header)`` pairs, in order; a missing key prints ``-``.
        digits: decimals for floats, one number or per key (default 2).
    """
    def nd(key: str) -> int:
        return digits.get(key, 2) if isinstance(digits, Mapping) else int(digits)

    lines = ["| " + " | ".join(h for _, h in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k), nd(k)) for k, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(payload: Mapping[str, object], one_line_items: Sequence[str] = ()) -> str:
    """``payload`` as indented JSON (numpy values converted, NaN -> null); the top-level lists
    named in ``one_line_items`` get one line per element, which keeps long per-object lists
    readable and small."""
    data = _jsonable(payload)
    compact = [k for k in one_line_items if isinstance(data.get(k), list)]
    head = json.dumps({k: v for k, v in data.items() if k not in compact}, indent=1)
    if not compact:
        return head
    parts = [f" {json.dumps(k)}: [\n" + ",\n".join("  " + json.dumps(v) for v in data[k])
             + "\n ]" for k in compact]
    body = head[1:-1].rstrip()
    return "{" + (body + "," if body else "") + "\n" + ",\n".join(parts) + "\n}"


def write_json(path: Path | str, payload: Mapping[str, object],
               one_line_items: Sequence[str] = ()) -> Path:
    """Write ``payload`` with :func:`dumps` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(payload, one_line_items) + "\n", encoding="utf-8")
    return path


def write_markdown(path: Path | str, text: str) -> Path:
    """Write the markdown ``text`` to ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def markdown_path_for(json_path: Path | str) -> Path:
    """The default markdown path next to a JSON report: same name, ``.md``."""
    return Path(json_path).with_suffix(".md")


def write_report(json_path: Path | str, payload: Mapping[str, object], markdown: str,
                 md_path: Path | str | None = None,
                 one_line_items: Sequence[str] = ("objects",)) -> tuple[Path, Path]:
    """Write the JSON ``payload`` and the ``markdown`` text; returns both paths."""
    j = write_json(json_path, payload, one_line_items)
    m = write_markdown(md_path if md_path is not None else markdown_path_for(j), markdown)
    return j, m


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark script's argument parser: its docstring's first line as the description
    and ``--md PATH`` (also write the table there); add the script's own options to it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--md", type=Path, default=None, help="also write the table here")
    return parser


def script_header(title: str, command: str, seconds: float) -> list[str]:
    """The first lines of a benchmark script's Markdown table: the title, the command, the
    machine (CPU, torch) and the run's wall time."""
    m = machine_info()
    return [f"# {title}", "",
            f"Command: `{command}`; {m['cpu']}, {m['logical_cpus']} logical CPUs, 1 torch "
            f"thread, torch {m['torch']}; {m['date_utc']} UTC; {seconds:.0f} s in all.", ""]


def emit(lines: Sequence[str], md: Path | str | None) -> str:
    """Print a benchmark script's Markdown and write it to ``md`` when given; returns it."""
    text = "\n".join(lines) + "\n"
    print(text)
    if md:
        Path(md).write_text(text, encoding="utf-8")
    return text
