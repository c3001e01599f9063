"""Search latency on the real-size catalogue (38 frames, 19,919 records): ours vs a Python scan of the records.

Ours: the catalogue DataFrame built once (categorical columns, bit columns of activity types and intensities,
an index of caption words), each query parsed and answered with vectorised masks (``Catalog.select``).
Naive: what a script does with ``annotations.json`` loaded: a list comprehension over the 19,919 record
dicts with the same conditions written by hand (regular expressions for caption words and phrases).

Both answer the same ~20 realistic queries of an InSAR expert and must find the same pairs (checked: the
benchmark fails otherwise). Printed: median and p95 over the queries of each query's median latency,
the ratio of the medians; JSON in ``bench/results/search.json``. Target: <= 100 ms per query on 2 cores.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.common import RESULTS_DIR, Timing, print_ratio, time_it, timing_dict, write_results
from thalia_viewer.core import schema
from thalia_viewer.core.catalog import Catalog
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import pair_key

NAME: Final = "search"
REPEATS: Final = 5
TARGET_S: Final = 0.100
CATALOGUE: Final = RESULTS_DIR / "data" / "catalogue"

Record = dict[str, Any]


def catalogue_root() -> Path:
    """The real-size catalogue, metadata-only cubes (generated once under ``bench/results/data/``)."""
    from thalia_viewer.core.synth.catalogue import write_catalogue

    if not (CATALOGUE / schema.ANNOTATIONS_FILE).exists():
        print(f"generating {CATALOGUE} (one-off, metadata only) ...", flush=True)
        write_catalogue(CATALOGUE, overwrite=True)
    return CATALOGUE


def _word(w: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W_]){re.escape(w)}(?![^\W_])", re.I)


def _days(r: Record) -> int:
    return (schema.parse_date(r["secondary_date"]) - schema.parse_date(r["primary_date"])).days


def _positive(r: Record) -> bool:
    return schema.is_positive(r)


SILL, NEAR = _word("sill"), re.compile(r"(?<![^\W_])near\W+the\W+summit(?![^\W_])", re.I)
SUMMIT_PREFIX = re.compile(r"(?<![^\W_])summit", re.I)
STRAT = re.compile(r"(?<![^\W_])vertical\W+stratification\W+atmospheric\W+fringes(?![^\W_])", re.I)
UPLIFT = re.compile(r"(?<![^\W_])uplift\W+pattern(?![^\W_])", re.I)
QUAKE = _word("earthquake")


def queries(volcano: Callable[[str], str]) -> list[tuple[str, Callable[[Record], bool]]]:
    """(our query, the same conditions on a record dict)."""
    return [
        (
            "activity:Dyke intensity:High year:2018..2019",
            lambda r: (
                "Dyke" in r["activity_type"]
                and "High" in r["intensity_level"]
                and "2018" <= r["primary_date"][:4] <= "2019"
            ),
        ),
        ('sill "near the summit"', lambda r: bool(SILL.search(r["caption"]) and NEAR.search(r["caption"]))),
        (
            "frame:124D* flag:turbulent confidence>=0.7",
            lambda r: (
                r["frameID"].startswith("124D")
                and r["atmospheric_fringes"] & 2 > 0
                and r["confidence"] >= 0.7
            ),
        ),
        ("label:earthquake", lambda r: "Earthquake" in r["label"]),
        (
            "flag:turbulent label:positive volcano:etna",
            lambda r: (
                r["atmospheric_fringes"] & 2 > 0 and _positive(r) and "etna" in volcano(r["frameID"]).lower()
            ),
        ),
        (
            "phase:unrest split:test intensity:high,medium",
            lambda r: (
                r["phase"] == "Unrest"
                and "20200101" <= r["primary_date"] <= "20211231"
                and bool({"High", "Medium"} & set(r["intensity_level"]))
            ),
        ),
        (
            "volcano:fournaise baseline<=24",
            lambda r: "fournaise" in volcano(r["frameID"]).lower() and _days(r) <= 24,
        ),
        (
            "primary:2019-06..2019-12 label:positive",
            lambda r: "20190601" <= r["primary_date"] <= "20191231" and _positive(r),
        ),
        (
            "date:2018-03-01 label:deformation",
            lambda r: r["primary_date"] <= "20180301" <= r["secondary_date"] and "Deformation" in r["label"],
        ),
        (
            "month:dec,jan,feb flag:low_coherence",
            lambda r: r["primary_date"][4:6] in ("12", "01", "02") and r["low_coherence"] > 0,
        ),
        ("summit* -label:negative", lambda r: bool(SUMMIT_PREFIX.search(r["caption"])) and _positive(r)),
        (
            'caption:"vertical-stratification atmospheric fringes" label:positive',
            lambda r: bool(STRAT.search(r["caption"])) and _positive(r),
        ),
        (
            "glacier_fringes>=1 OR flag:orbital",
            lambda r: r["glacier_fringes"] >= 1 or r["orbital_fringes"] > 0,
        ),
        ("crowd:yes activity:sill", lambda r: r["is_crowd"] > 0 and "Sill" in r["activity_type"]),
        ("valid:no", lambda r: any(r[f] for f in schema.UNUSABLE_FLAGS)),
        (
            "activity:mogi,spheroid intensity:low sort:-confidence",
            lambda r: bool({"Mogi", "Spheroid"} & set(r["activity_type"])) and "Low" in r["intensity_level"],
        ),
        ("baseline>300 label:positive", lambda r: _days(r) > 300 and _positive(r)),
        ("earthquake", lambda r: bool(QUAKE.search(r["caption"]))),
        (
            "frame:162A* primary:2017",
            lambda r: r["frameID"].startswith("162A") and r["primary_date"][:4] == "2017",
        ),
        (
            '"uplift pattern" activity:unidentified year:2019..2020',
            lambda r: (
                bool(UPLIFT.search(r["caption"]))
                and "Unidentified" in r["activity_type"]
                and "2019" <= r["primary_date"][:4] <= "2020"
            ),
        ),
    ]


def main() -> dict:
    root = catalogue_root()
    ds = ThaliaDataset(root)
    t0 = time.perf_counter()
    records = list(ds.annotations.values())
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cat = Catalog.from_root(ds)
    build_s = time.perf_counter() - t0
    print(
        f"catalogue: {len(cat)} rows, {cat.table['frame'].nunique()} frames; annotations.json read in {load_s:.2f} s, "
        f"catalogue built in {build_s:.2f} s (once per process)"
    )
    names = ds.location.read_json(schema.FRAME_NAMES_FILE, required=False) or {}

    def volcano(frame: str) -> str:
        return schema.volcanoes(frame, names)

    rows: list[dict[str, Any]] = []
    ours_medians, naive_medians, all_runs = [], [], []
    for query, predicate in queries(volcano):
        found = set(cat.search(query)["key"])
        expected = {
            pair_key(r["frameID"], r["primary_date"], r["secondary_date"]) for r in records if predicate(r)
        }
        if found != expected:
            raise AssertionError(
                f"{query!r}: ours {len(found)} pairs, naive {len(expected)} (differ by {len(found ^ expected)})"
            )
        ours: Timing = time_it(lambda q=query: cat.search(q), repeats=REPEATS)
        naive: Timing = time_it(
            lambda p=predicate: [r for r in records if p(r)], repeats=max(2, REPEATS // 2)
        )
        ours_medians.append(ours.median_s)
        naive_medians.append(naive.median_s)
        all_runs += ours.runs_s
        rows.append(
            {"query": query, "pairs": len(found), "ours": timing_dict(ours), "naive": timing_dict(naive)}
        )
        print(
            f"  {len(found):6d} pairs  ours {ours.median_s * 1e3:7.2f} ms  naive {naive.median_s * 1e3:7.1f} ms  {query}"
        )
    median = statistics.median(ours_medians)
    p95 = float(np.percentile(ours_medians, 95))
    p95_runs = float(np.percentile(all_runs, 95))
    ours_all = Timing(median, min(ours_medians), ours_medians, [])
    naive_all = Timing(statistics.median(naive_medians), min(naive_medians), naive_medians, [])
    ratio = print_ratio("search (median over the queries)", ours_all, naive_all, "catalogue", "record scan")
    print(
        f"ours: median {median * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms over {len(rows)} queries "
        f"(p95 of every run {p95_runs * 1e3:.2f} ms); target <= {TARGET_S * 1e3:.0f} ms: "
        f"{'met' if p95 <= TARGET_S else 'MISSED'}"
    )
    figures = {
        "records": len(cat),
        "frames": int(cat.table["frame"].nunique()),
        "load_s": round(load_s, 3),
        "build_s": round(build_s, 3),
        "median_ms": round(median * 1e3, 3),
        "p95_ms": round(p95 * 1e3, 3),
        "p95_all_runs_ms": round(p95_runs * 1e3, 3),
        "naive_median_ms": round(naive_all.median_s * 1e3, 3),
        "target_ms": TARGET_S * 1e3,
        "ratio": ratio,
        "queries": rows,
    }
    path = write_results(NAME, figures)
    print(f"wrote {path}")
    return {k: v for k, v in figures.items() if k != "queries"}


if __name__ == "__main__":
    main()
