"""``thalia-viewer search`` / ``stats`` / ``synth --catalogue``: answers, formats and one-paragraph errors."""

from __future__ import annotations

import csv
import io
import json

from thalia_viewer.cli import main
from thalia_viewer.core.catalog import Catalog
from thalia_viewer.core.synth.catalogue import N_RECORDS


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_lists_the_matching_pairs_in_every_format(capsys, catalogue_root):
    cat = Catalog.from_root(catalogue_root)
    query = "activity:dyke intensity:high"
    expected = cat.search(query)["key"].tolist()
    assert expected
    code, out, err = run(capsys, "search", catalogue_root, query, "--facets")
    assert code == 0, err
    assert f"{len(expected)} pair(s) in" in out and expected[0] in out and "activity: Dyke" in out
    code, out, _ = run(capsys, "search", catalogue_root, query, "--json")
    data = json.loads(out)
    assert data["count"] == len(expected) and [p["key"] for p in data["pairs"]] == expected
    assert data["pairs"][0]["primary"][4] == "-" and "Dyke" in data["pairs"][0]["activity"]
    code, out, _ = run(capsys, "search", catalogue_root, 'sill "near the summit"', "--csv", "--limit", "3")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert 0 < len(rows) <= 3 and all("near the summit" in r["caption"] for r in rows)
    code, out, _ = run(capsys, "search", catalogue_root, "", "--limit", "2")
    assert f"{N_RECORDS} pair(s) in 38 frame(s)" in out and "(first 2 shown)" in out


def test_search_errors_are_one_paragraph(capsys, catalogue_root, tmp_path):
    for argv, says in [
        (("activty:dyke",), "Did you mean 'activity'"),
        (("iou<0.5",), "needs a review run"),
        (("x", "--store", tmp_path / "none"), "does not exist"),
        (("x", "--review", tmp_path / "none"), "no review run"),
    ]:
        code, _, err = run(capsys, "search", catalogue_root, *argv)
        assert code == 2 and says.replace("needs", "need(s)") in err and "Traceback" not in err, err
    code, _, err = run(capsys, "search", tmp_path / "missing", "x")
    assert code == 2 and "does not exist" in err


def test_search_with_a_review_run(capsys, catalogue_root, tmp_path):
    cat = Catalog.from_root(catalogue_root)
    pos, neg = cat.search("label:positive")["key"].iloc[0], cat.search("label:negative")["key"].iloc[0]
    pairs = {
        pos: {
            "metrics": {"tp": 0, "fp": 0, "fn": 50, "tn": 10, "iou": 0.0, "f1": 0.0},
            "deformation_pixels": 0,
        },
        neg: {
            "metrics": {"tp": 0, "fp": 30, "fn": 0, "tn": 10, "iou": 0.0, "f1": 0.0},
            "deformation_pixels": 30,
        },
    }
    (tmp_path / "metrics.json").write_text(json.dumps({"pairs": pairs}))
    code, out, err = run(capsys, "search", catalogue_root, "disagree:yes", "--review", tmp_path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert sorted(p["key"] for p in data["pairs"]) == sorted([pos, neg])
    assert {p["key"]: p["model_pixels"] for p in data["pairs"]} == {pos: 0, neg: 30}


def test_stats_prints_tables_and_writes_json_and_csv(capsys, catalogue_root, tmp_path):
    code, out, err = run(capsys, "stats", catalogue_root)
    assert code == 0, err
    assert f"{N_RECORDS} records" in out and "Pairs per frame (Table 1)" in out and "162A_06192_060402" in out
    assert "Class balance per split" in out and "Positive pairs per frame and month" in out
    code, out, _ = run(capsys, "stats", catalogue_root, "--json", "--query", "frame:124D*")
    data = json.loads(out)
    assert data["totals"]["frames"] == 2 and {r["frame"] for r in data["frames"]} == {
        "124D_05291_081406",
        "124D_04854_171313",
    }
    assert sum(r["pairs"] for r in data["frames"]) == data["totals"]["pairs"]
    code, out, _ = run(capsys, "stats", catalogue_root, "--csv", tmp_path / "tables")
    assert (
        code == 0
        and (tmp_path / "tables" / "frames.csv").exists()
        and (tmp_path / "tables" / "monthly.csv").exists()
    )


def test_synth_catalogue_writes_a_metadata_only_root(capsys, tmp_path):
    code, out, err = run(
        capsys, "synth", tmp_path / "cat", "--catalogue", "--fill", "0", "--size", "64", "64"
    )
    assert code == 0, err
    assert "38 frames, 19919 records" in out and "up to 320 primary dates" in out
    code, _, err = run(capsys, "synth", tmp_path / "cat", "--catalogue")
    assert code == 2 and "already exists" in err


def test_commands_find_the_corrections_where_the_app_saves_them(capsys, tiny_root, tmp_path, monkeypatch):
    """``$THALIA_STORE`` (where the app saves) is the commands' default store too, not only ROOT/.thalia."""
    from thalia_viewer.core.annotations import STORE_ENV, AnnotationStore
    from thalia_viewer.core.dataset import ThaliaDataset

    ds = ThaliaDataset(tiny_root)
    pair = ds.pairs()[0]
    store = AnnotationStore(tmp_path / "store", dataset=ds)
    ann = store.read_merged(pair)
    store.save_pair(
        pair,
        ann.masks,
        dict(ann.record, caption="checked again by zoe"),
        author="zoe",
        message="caption",
        base=ann.version,
    )
    assert (
        json.loads(run(capsys, "search", tiny_root, "by:zoe", "--json")[1])["count"] == 0
    )  # ROOT/.thalia: none
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    code, out, err = run(capsys, "search", tiny_root, "by:zoe", "--json")
    assert code == 0, err
    assert [p["key"] for p in json.loads(out)["pairs"]] == [pair.key]
