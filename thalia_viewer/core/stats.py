"""Dataset statistics recomputed from the catalogue (records + corrections): the Thalia paper's Table 1 and its
class-balance figures, as tidy DataFrames that the CLI prints and the app plots.

>>> stats = dataset_stats(Catalog.from_root(root, store=store).table)
>>> stats.tables["frames"]      # per frame: volcano, dates, pairs, positives, splits, corrections
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from . import schema
from .catalog import LABELS, SPLITS, flag_masks

#: What each table holds (titles of the CLI sections and the app's plots).
TITLES: Final = {
    "frames": "Pairs per frame (Table 1)",
    "splits": "Class balance per split (valid pairs)",
    "activity": "Pairs per activity type (any pattern, valid pairs)",
    "intensity": "Pairs per intensity level (any pattern, valid pairs)",
    "phase": "Pairs per volcanic phase (valid pairs)",
    "flags": "Pairs per noise flag (all records)",
    "confidence": "Pairs per annotator confidence (valid pairs)",
    "monthly": "Positive pairs per frame and month of the primary date (valid pairs)",
    "corrections": "Corrected pairs per annotator",
}


@dataclass(frozen=True)
class DatasetStats:
    """Totals and tables (see :data:`TITLES`) of a catalogue or of a query's rows."""

    totals: dict[str, int]
    tables: dict[str, pd.DataFrame]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: totals and every table as a list of rows (``monthly`` as frame -> month -> count)."""
        out: dict[str, Any] = {"totals": self.totals}
        for name, table in self.tables.items():
            if name == "monthly":
                out[name] = {
                    str(f): {str(m): int(v) for m, v in row.items() if v} for f, row in table.iterrows()
                }
            else:
                out[name] = json_rows(table)
        return out

    def text(self) -> str:
        """The statistics as plain-text tables."""
        t = self.totals
        lines = [
            f"{t['records']} records, {t['pairs']} valid pairs ({t['positive']} positive, {100 * t['positive'] / max(t['pairs'], 1):.1f} %), "
            f"{t['frames']} frames, {t['unusable']} unusable records, {t['corrected']} corrected"
        ]
        for name, table in self.tables.items():
            lines += ["", TITLES[name]]
            if name == "monthly":
                yearly = table.T.groupby(lambda m: str(m)[:4]).sum().T
                table = yearly.loc[:, (yearly > 0).any(axis=0)] if not yearly.empty else yearly
                table.columns = [f"{c}" for c in table.columns]
            lines.append(table.to_string() if not table.empty else "  (none)")
        return "\n".join(lines)


def json_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows = table.reset_index().to_dict(orient="records")
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in rows]


def dataset_stats(t: pd.DataFrame) -> DatasetStats:
    """Statistics of catalogue rows ``t`` (a :class:`~.catalog.Catalog` table or a slice of one)."""
    valid = t[t["valid"]]
    totals = {
        "records": int(t["labelled"].sum()),
        "pairs": len(valid),
        "positive": int(valid["positive"].sum()),
        "frames": int(t["frame"].nunique()),
        "unusable": int((~t["valid"] & t["labelled"]).sum()),
        "corrected": int(t["corrected"].sum()),
    }
    return DatasetStats(
        totals,
        {
            "frames": frame_table(t),
            "splits": split_balance(valid),
            "activity": bit_counts(valid, "activity_bits", schema.ACTIVITY_TYPES),
            "intensity": bit_counts(valid, "intensity_bits", schema.INTENSITY_LEVELS),
            "phase": phase_counts(valid),
            "flags": flag_counts(t),
            "confidence": confidence_counts(valid),
            "monthly": positives_by_month(valid),
            "corrections": corrections(t),
        },
    )


def frame_table(t: pd.DataFrame) -> pd.DataFrame:
    """Per frame: first volcano, primary dates, valid pairs, positives (and %), pairs per split, records, corrected."""
    valid = t[t["valid"]]
    g = valid.groupby("frame", observed=True)
    out = pd.DataFrame(
        {
            "volcano": t.groupby("frame", observed=True)["volcano"].first().astype(str).str.split(",").str[0],
            "primary dates": g["primary"].nunique(),
            "pairs": g.size(),
            "positive": g["positive"].sum(),
        }
    )
    out["positive %"] = (100 * out["positive"] / out["pairs"].where(out["pairs"] > 0)).round(1)
    for split in SPLITS:
        out[split] = valid[valid["split"] == split].groupby("frame", observed=True).size()
    out["records"] = t[t["labelled"]].groupby("frame", observed=True).size()
    out["corrected"] = t[t["corrected"]].groupby("frame", observed=True).size()
    out = out.fillna(0)
    ints = [c for c in out.columns if c not in ("volcano", "positive %")]
    out[ints] = out[ints].astype(int)
    out = out.loc[:, [c for c in out.columns if c != "none" or out[c].any()]]
    out.index = out.index.astype(str)
    out.index.name = "frame"
    return out.sort_values("pairs", ascending=False)


def split_balance(valid: pd.DataFrame) -> pd.DataFrame:
    """Split x label counts of valid pairs, with the positive share."""
    table = pd.crosstab(valid["split"].astype(str), valid["label"].astype(str))
    table = table.reindex(
        index=[s for s in SPLITS if s in table.index], columns=[c for c in LABELS if c in table.columns]
    )
    positive = valid.groupby(valid["split"].astype(str))["positive"].sum().reindex(table.index)
    table["positive %"] = (100 * positive / table.sum(axis=1)).round(1)
    table.index.name = "split"
    return table


def bit_counts(valid: pd.DataFrame, column: str, classes: tuple[schema.ClassCode, ...]) -> pd.DataFrame:
    """Pairs with at least one pattern of each class (per split), in the schema's order with its colours."""
    bits = valid[column].to_numpy()
    rows = []
    for c in classes:
        if not c.code:
            continue
        has = ((bits >> c.code) & 1).astype(bool)
        rows.append(
            {
                "class": c.name,
                **{s: int((has & (valid["split"] == s).to_numpy()).sum()) for s in SPLITS},
                "pairs": int(has.sum()),
            }
        )
    out = pd.DataFrame(rows).set_index("class")
    return out.loc[:, [c for c in out.columns if c != "none" or out[c].any()]]


def phase_counts(valid: pd.DataFrame) -> pd.DataFrame:
    """Pairs per volcanic phase and label."""
    table = pd.crosstab(valid["phase"].astype(str).replace("", "(none)"), valid["label"].astype(str))
    table.index.name = "phase"
    return table.reindex(columns=[c for c in LABELS if c in table.columns])


def flag_counts(t: pd.DataFrame) -> pd.DataFrame:
    """Records with each noise flag set, and how many of those are positive."""
    labelled = t[t["labelled"]]
    positive = labelled["positive"].to_numpy()
    rows = [
        {"flag": name, "pairs": int(m.sum()), "positive": int((m & positive).sum())}
        for name, m in flag_masks(labelled).items()
    ]
    return pd.DataFrame(rows).set_index("flag").sort_values("pairs", ascending=False)


def confidence_counts(valid: pd.DataFrame) -> pd.DataFrame:
    """Pairs per confidence value, positives apart."""
    conf = valid["confidence"].round(2)
    return pd.crosstab(conf, valid["positive"].map({True: "positive", False: "negative"})).rename_axis(
        "confidence"
    )


def positives_by_month(valid: pd.DataFrame) -> pd.DataFrame:
    """Frame x month (``YYYY-MM`` of the primary date) counts of positive pairs, every month of the span."""
    frames = sorted(map(str, valid["frame"].unique()))
    if valid.empty:
        return pd.DataFrame(index=pd.Index(frames, name="frame"))
    months = pd.period_range(valid["primary"].min(), valid["primary"].max(), freq="M").astype(str)
    pos = valid[valid["positive"]]
    table = (
        pd.crosstab(pos["frame"].astype(str), pos["primary"].dt.strftime("%Y-%m"))
        if len(pos)
        else pd.DataFrame()
    )
    table = table.reindex(index=frames, columns=list(months), fill_value=0).fillna(0).astype(int)
    table.index.name = "frame"
    return table


def corrections(t: pd.DataFrame) -> pd.DataFrame:
    """Corrected pairs per annotator, and how many turned positive / negative."""
    c = t[t["corrected"]]
    if c.empty:
        return pd.DataFrame(columns=["pairs", "positive"]).rename_axis("annotator")
    g = c.groupby(c["corrected_by"].astype(str))
    return pd.DataFrame({"pairs": g.size(), "positive": g["positive"].sum().astype(int)}).rename_axis(
        "annotator"
    )
