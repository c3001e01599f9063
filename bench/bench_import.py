"""``import thalia_viewer`` with lazy public names vs importing the names a notebook uses up front.

Every process of the project imports the package first (``thalia-viewer --help``, each CLI command, each
``panel serve`` worker, each Dask or loader worker), so what ``thalia_viewer/__init__.py`` imports is paid
everywhere. Ours binds names only; the eager way is the same process touching the core names (what an
``__init__`` importing them would cost). Each run is a fresh interpreter; the bare interpreter is timed too.
Ratio = eager / ours.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Final

from bench.common import print_ratio, time_it, timing_dict, write_results

NAME: Final = "import"
CORE_NAMES: Final = (
    "ThaliaDataset",
    "Frame",
    "Pair",
    "PairView",
    "Label",
    "ThaliaError",
    "AnnotationStore",
    "MaskEditor",
)
SNIPPETS: Final = {
    "bare": "pass",
    "ours": "import thalia_viewer",
    "eager": "import thalia_viewer as tv; " + "; ".join(f"tv.{n}" for n in CORE_NAMES),
}


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def main() -> dict[str, Any]:
    timings = {label: time_it(lambda code=code: _python(code), repeats=3) for label, code in SNIPPETS.items()}
    ratio = print_ratio(
        "import thalia_viewer", timings["ours"], timings["eager"], "lazy names", "core names imported"
    )
    print(f"(a bare interpreter: {timings['bare'].median_s:.3f} s)")
    figures = {label: timing_dict(t) for label, t in timings.items()} | {"ratio": round(ratio, 2)}
    write_results(NAME, figures)
    return figures


if __name__ == "__main__":
    main()
