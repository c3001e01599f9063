"""``make compat``: the project writes Zarr 2 stores; zarr-python 2.18.3 in a side virtualenv reads them back.

``python -m tests.compat.check [--python SIDE_VENV_PYTHON] [--keep DIR]``: writes the stores of
:mod:`tests.compat.make_roots` with the project's stack (a temporary folder unless ``--keep``), then runs
``read_with_zarr2.py`` with the side virtualenv's python. Exit status: the reader's (0: identical).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
READER = HERE / "read_with_zarr2.py"
DEFAULT_PYTHON = HERE.parents[1] / "build" / "compat-venv" / "bin" / "python"


def run(python: Path, work: Path, predictions: bool = True) -> subprocess.CompletedProcess[str]:
    """Build the stores under ``work`` and read them with ``python``; the reader's output is captured."""
    from tests.compat.make_roots import build

    manifest = build(work, predictions=predictions)
    return subprocess.run(
        [str(python), str(READER), str(manifest)], capture_output=True, text=True, check=False
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="the side virtualenv's python")
    parser.add_argument(
        "--keep", type=Path, help="write the stores here and keep them (default: a temporary folder)"
    )
    parser.add_argument(
        "--no-predictions", action="store_true", help="skip the batch-prediction store (no torch)"
    )
    args = parser.parse_args(argv)
    if not args.python.exists():
        print(
            f"compat: {args.python} does not exist; `make compat` creates the side virtualenv.",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="thalia-compat-") as tmp:
        work = args.keep or Path(tmp)
        result = run(args.python, work, predictions=not args.no_predictions)
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    print(f"compat: {time.perf_counter() - start:.1f} s, exit {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
