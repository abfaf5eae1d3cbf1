"""The ``ifss`` entry point: listing commands stays light, subcommands load their module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_ifss.cli import main

_PROBE = """
import sys
from napari_ifss.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(sorted(m for m in ("torch", "napari", "napari_ifss.eval.fewshot_bench") if m in sys.modules))
"""


def _loaded(argv: list[str]) -> str:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_listing_commands_imports_neither_torch_nor_napari():
    assert _loaded(["--help"]) == "[]"
    assert _loaded(["bench", "--help"]) == "[]"


def test_a_subcommand_imports_its_own_module():
    assert "napari_ifss.eval.fewshot_bench" in _loaded(["bench", "fewshot", "--help"])


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("sub", ["check", "ship", "speed"])
def test_training_tools_are_ifss_train_subcommands(sub, capsys):
    """#17: the training scripts are `ifss train` subcommands."""
    with pytest.raises(SystemExit) as exc:
        main(["train", sub, "--help"])
    assert exc.value.code == 0 and f"ifss train {sub}" in capsys.readouterr().out
