"""The catalogue DataFrame and its query language, on hand-written records (exact expectations) and a real root."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thalia_viewer.core import schema
from thalia_viewer.core.catalog import BOTH_LABELS, UNLABELLED, Catalog, WordIndex, build_table, load_review
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.query import QueryError, parse, tokenize

ETNA = "124D_05291_081406"
REUNION = "144A_SM_REUN_S6"


def record(
    uid, frame, p, s, label=("Non_Deformation",), activity=(), intensity=(), phase="Rest", caption="", **flags
):
    rec = {
        "uniqueID": uid,
        "frameID": frame,
        "primary_date": p,
        "secondary_date": s,
        **dict.fromkeys(schema.FLAG_FIELDS, 0),
        "label": list(label),
        "activity_type": list(activity),
        "intensity_level": list(intensity),
        "phase": phase,
        "confidence": flags.pop("confidence", 0.8),
        "is_crowd": int(len(activity) > 1),
        "caption": caption,
    }
    rec.update(flags)
    return rec


RECORDS = [
    record(
        1,
        ETNA,
        "20180105",
        "20180117",
        ["Deformation"],
        ["Dyke"],
        ["High"],
        "Unrest",
        "A High-intensity Dyke-type uplift pattern near the summit of Etna.",
        atmospheric_fringes=2,
    ),
    record(
        2,
        ETNA,
        "20180105",
        "20180129",
        ["Deformation"],
        ["Sill", "Dyke"],
        ["Low", "Medium"],
        "Unrest",
        "A sill near the summit and a dyke on the flank.",
        confidence=0.6,
    ),
    record(
        3,
        ETNA,
        "20190601",
        "20190613",
        caption="No deformation; turbulent atmosphere.",
        atmospheric_fringes=3,
    ),
    record(4, ETNA, "20190601", "20190625", caption="Corrupted by processing stripes.", corrupted=1),
    record(
        5,
        REUNION,
        "20200110",
        "20200122",
        ["Earthquake"],
        ["Earthquake"],
        ["None"],
        "None",
        "An earthquake south of the volcano.",
        low_coherence=1,
    ),
    record(
        6,
        REUNION,
        "20200110",
        "20210115",
        ["Deformation", "Earthquake"],
        ["Mogi", "Earthquake"],
        ["Medium", "None"],
        "Rebound",
        "Mogi subsidence at the summit and an earthquake.",
        orbital_fringes=1,
        confidence=0.5,
    ),
    record(
        7,
        REUNION,
        "20141201",
        "20141213",
        caption="Quiet volcano, vertical stratification.",
        atmospheric_fringes=1,
    ),
]
QUALITY = {
    ETNA: {
        "20180105": {"length": 2, "secondary_date": ["20180117", "20180129"], "uniqueID": [1, 2]},
        "20190601": {"length": 2, "secondary_date": ["20190613", "20190701"], "uniqueID": [3, -1]},
    },
    REUNION: {
        "20200110": {"length": 2, "secondary_date": ["20200122", "20210115"], "uniqueID": [5, 6]},
        "20141201": {"length": 1, "secondary_date": ["20141213"], "uniqueID": [7]},
    },
}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    table = build_table({str(r["uniqueID"]): r for r in RECORDS}, QUALITY, {REUNION: "Piton de la Fournaise"})
    return Catalog(table, WordIndex.build(table["caption"].tolist()))


def keys(cat: Catalog, query: str) -> list[str]:
    return cat.search(query)["key"].tolist()


def key(uid: int) -> str:
    r = RECORDS[uid - 1]
    return f"{r['frameID']}/{r['primary_date']}_{r['secondary_date']}"


def test_table_has_a_row_per_record_and_per_unannotated_valid_pair(cat):
    t = cat.table
    assert len(t) == len(RECORDS) + 1  # 20190601_20190701 is valid but has no record
    row = t[t.key == f"{ETNA}/20190601_20190701"].iloc[0]
    assert row.label == UNLABELLED and not row.labelled and row.valid and row.uid == -1
    corrupted = t[t.uid == 4].iloc[0]
    assert not corrupted.valid  # not in quality_timeseries.json
    assert t[t.uid == 6].iloc[0].label == BOTH_LABELS
    assert t[t.uid == 6].iloc[0].baseline == 371
    assert list(t.key) == sorted(t.key)  # frame, primary, secondary order
    assert t[t.uid == 5].iloc[0].volcano == "Piton de la Fournaise"  # the root's frame_names.json wins
    assert t[t.uid == 1].iloc[0].volcano == "Etna"  # else the schema's table
    assert str(t["frame"].dtype) == "category" and str(t["label"].dtype) == "category"


@pytest.mark.parametrize(
    ("query", "uids"),
    [
        ("activity:dyke", [1, 2]),
        ("activity:Dyke intensity:High year:2018", [1]),
        ("activity:dyke,mogi", [1, 2, 6]),
        ("label:earthquake", [5, 6]),
        ("label:deformation", [1, 2, 6]),
        ("label:negative", [3, 4, 7]),
        ("label:unlabelled", [None]),
        ("phase:rebound", [6]),
        ("flag:turbulent", [1, 3]),
        ("flag:stratified", [3, 7]),
        ("flag:orbital", [6]),
        ("flag:unusable", [4]),
        ("atmospheric_fringes>=2", [1, 3]),
        ("confidence<0.7", [2, 6]),
        ("confidence:0.5..0.6", [2, 6]),
        ("baseline>300", [6]),
        ("frame:124D*", [1, 2, 3, 4, None]),
        ("volcano:fournaise", [7, 5, 6]),
        ("split:test", [5, 6]),
        ("split:val", [3, 4, None]),
        ("year:2014", [7]),
        ("primary:2019-06", [3, 4, None]),
        ("secondary>=2021", [6]),
        ("date:2020-06-01", [6]),
        ("date:2018-01-10..2018-01-20", [1, 2]),
        ("month:dec,jan", [1, 2, 5, 6, 7]),
        ("crowd:yes", [2, 6]),
        ("valid:no", [4]),
        ("summit", [1, 2, 6]),
        ('sill "near the summit"', [2]),
        ('"near the summit"', [1, 2]),
        ('caption:"the summit and"', [2, 6]),
        ("dyke-type", [1]),
        ("subsid*", [6]),
        ("-label:negative -label:unlabelled", [1, 2, 5, 6]),
        ("NOT activity:dyke label:positive", [5, 6]),
        ("label:earthquake OR activity:sill", [2, 5, 6]),
        ("activity:dyke intensity:high OR phase:rebound", [1, 6]),
        ("phase!=rest", [1, 2, 5, 6, None]),
        ("uid:5..6", [5, 6]),
        (f"key:{ETNA}/20180105_20180117", [1]),
    ],
)
def test_queries_find_exactly_the_expected_pairs(cat, query, uids):
    expected = sorted(key(u) if u else f"{ETNA}/20190601_20190701" for u in uids)
    assert sorted(keys(cat, query)) == expected


def test_sort_and_empty_query(cat):
    assert len(cat.search("")) == len(cat)
    rows = cat.search("label:positive sort:-baseline")
    assert list(rows.baseline) == sorted(rows.baseline, reverse=True)
    assert list(cat.search("sort:confidence").confidence.dropna()) == sorted(cat.table.confidence.dropna())


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("activty:dyke", "Did you mean 'activity'"),
        ("label:foo", "label has no value 'foo'"),
        ("confidence>high", "takes a number"),
        ("primary:2018-13", "is not a date"),
        ('"open phrase', "unbalanced quote"),
        ("iou<0.5", "need(s) a review run"),
        ("activity>dyke", "not a comparison"),
        ("a OR", "OR needs a term on each side"),
        ("label:positive NOT", "ends with NOT"),
        ("corrected:maybe", "yes or no"),
    ],
)
def test_bad_queries_say_what_is_wrong(cat, query, says):
    with pytest.raises(QueryError) as info:
        cat.select(query)
    assert says in str(info.value)


def test_tokenizer_keeps_phrases_and_field_phrases_together():
    assert [t.text for t in tokenize('volcano:"piton de la" sill "near the summit" x')] == [
        "volcano:piton de la",
        "sill",
        "near the summit",
        "x",
    ]
    assert [t.quoted for t in tokenize('volcano:"piton de la" "a b"')] == [False, True]
    assert parse('volcano:"piton de la"').groups[0][0].text == "volcano:piton de la"


def test_facets_count_each_value_of_the_rows(cat):
    rows = cat.select("frame:124D*")
    f = cat.facets(rows)
    assert f["label"] == {"Deformation": 2, "Non_Deformation": 2, UNLABELLED: 1}
    assert f["activity"] == {"Dyke": 2, "Sill": 1}
    assert f["flag"]["turbulent mixing"] == 2 and f["flag"]["corrupted"] == 1
    assert f["year"] == {"2018": 2, "2019": 3}


def test_review_scores_add_model_columns_and_disagreement(cat, tmp_path):
    metrics = {
        "pairs": {
            key(1): {
                "metrics": {"tp": 90, "fp": 5, "fn": 5, "tn": 900, "iou": 0.9, "f1": 0.95},
                "deformation_pixels": 95,
            },
            key(2): {
                "metrics": {"tp": 10, "fp": 50, "fn": 80, "tn": 900, "iou": 0.07, "f1": 0.13},
                "deformation_pixels": 60,
            },
            key(3): {
                "metrics": {"tp": 0, "fp": 40, "fn": 0, "tn": 900, "iou": 0.0, "f1": 0.0},
                "deformation_pixels": 40,
            },
            key(7): {
                "metrics": {"tp": 0, "fp": 0, "fn": 0, "tn": 900, "iou": 1.0, "f1": 1.0},
                "deformation_pixels": 0,
            },
        }
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    reviewed = cat.with_review(tmp_path)
    assert sorted(keys(reviewed, "model:positive")) == sorted([key(1), key(2), key(3)])
    assert sorted(keys(reviewed, "disagree:yes")) == sorted([key(2), key(3)])  # weak overlap; false alarm
    assert keys(reviewed, "model:positive label:negative") == [key(3)]
    assert keys(reviewed, "iou<0.5 label:positive") == [key(2)]
    assert keys(reviewed, "model:negative") == [key(7)]
    assert keys(reviewed, "reviewed:yes sort:-pixels")[:2] == [key(1), key(2)]
    assert load_review(tmp_path / "metrics.json")[key(1)]["pixels"] == 95
    with pytest.raises(Exception, match="no review run"):
        cat.with_review(tmp_path / "missing")


def test_catalogue_of_a_root_applies_the_store_corrections(tiny_root, tmp_path):
    from thalia_viewer.core.annotations import AnnotationStore
    from thalia_viewer.core.dataset import ThaliaDataset

    ds = ThaliaDataset(tiny_root)
    cat = Catalog.from_root(ds)
    assert len(cat) == len(ds.annotations)
    negative = next(p for p in ds.pairs() if not schema.is_positive(ds.annotation(p)))
    assert keys(cat, f"key:{negative.key} label:negative") == [negative.key]
    store = AnnotationStore(tmp_path / "store", dataset=ds)
    ann = store.read_merged(negative)
    masks = {m: a.copy() for m, a in ann.masks.items()}
    masks[schema.ACTIVITY_MASK][20:40, 20:40] = 2  # a dyke
    masks[schema.INTENSITY_MASK][20:40, 20:40] = 3
    masks[schema.DEFORMATION_MASK], masks[schema.INTENSITY_MASK] = schema.consistent_masks(
        masks[schema.ACTIVITY_MASK], masks[schema.INTENSITY_MASK]
    )
    rec = dict(
        ann.record,
        label=["Deformation"],
        activity_type=["Dyke"],
        intensity_level=["High"],
        phase="Unrest",
        is_crowd=0,
        caption="Corrected: a dyke intrusion missed by the first annotator.",
    )
    store.save_pair(negative, masks, rec, author="ana", message="missed dyke", base=ann.version)
    fixed = cat.with_corrections(store)
    assert keys(fixed, "by:ana") == [negative.key]
    assert keys(fixed, "corrected:yes activity:dyke intensity:high") == [negative.key]
    assert negative.key in keys(fixed, "intrusion annotator")  # the corrected caption is searchable
    assert keys(cat, "intrusion") == []
    row = fixed.table[fixed.table.key == negative.key].iloc[0]
    assert row.corrected_by == "ana" and row.corrected_at is not None and row.positive
    assert fixed.facets(fixed.select("corrected:yes"))["corrected by"] == {"ana": 1}
    assert len(cat.search("corrected:yes")) == 0  # the catalogue it came from is unchanged
    assert fixed.pairs(fixed.select("by:ana")) == [Pair.parse(negative.key)]


def test_word_index_rows_are_the_captions_holding_the_word(cat):
    rows = cat.index.rows("summit")
    assert all("summit" in cat.table.caption.iloc[r].lower() for r in rows)
    assert np.all(np.diff(rows) > 0)
