"""Annotation records and captions composed from what was actually simulated for a pair."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from .. import schema

#: Thresholds (fringes) above which an effect is worth an annotation flag, as an expert would see it.
FLAG_FRINGES = 1.0
LOW_COHERENCE = 0.35  # mean coherence below which a pair is flagged low_coherence


@dataclass(frozen=True)
class Pattern:
    """One labelled deformation pattern of a pair."""

    kind: str  # ACTIVITY_TYPES name
    fringes: float  # peak-to-peak fringes seen in this pair
    intensity: int  # INTENSITY_LEVELS code
    uplift: bool  # towards the satellite at the source (inflation)
    east_km: float  # from the volcano summit
    north_km: float
    area_km2: float


@dataclass
class PairFacts:
    """What the generator simulated for one pair."""

    primary: date
    secondary: date
    patterns: list[Pattern] = field(default_factory=list)
    stratified_fringes: float = 0.0
    turbulent_fringes: float = 0.0
    ramp_fringes: float = 0.0
    mean_coherence: float = 1.0
    corrupted: bool = False
    direction: str = "D"
    volcano: str = "volcano"


def atmospheric_code(facts: PairFacts) -> int:
    """``atmospheric_fringes``: 0 none, 1 vertical stratification, 2 turbulent mixing, 3 both."""
    code = 0
    if facts.stratified_fringes >= FLAG_FRINGES:
        code |= schema.ATMO_STRATIFIED
    if facts.turbulent_fringes >= FLAG_FRINGES:
        code |= schema.ATMO_TURBULENT
    return code


def _confidence(facts: PairFacts) -> float:
    """How sure an expert would be: lower for weak patterns, strong atmosphere and low coherence."""
    score = 0.8
    if facts.patterns and min(p.fringes for p in facts.patterns) < 1.5:
        score -= 0.1
    if atmospheric_code(facts):
        score -= 0.1
    if facts.mean_coherence < LOW_COHERENCE:
        score -= 0.1
    return round(max(score, 0.5), 1)


def _phase(facts: PairFacts) -> str:
    volcanic = [p for p in facts.patterns if p.kind != schema.ActivityType.EARTHQUAKE]
    if not facts.patterns:
        return schema.Phase.REST.value
    if not volcanic:
        return schema.Phase.NONE.value
    strongest = max(volcanic, key=lambda p: p.fringes)
    return (schema.Phase.UNREST if strongest.uplift else schema.Phase.REBOUND).value


def _labels(facts: PairFacts) -> list[str]:
    kinds = {p.kind for p in facts.patterns}
    out = []
    if kinds - {schema.ActivityType.EARTHQUAKE}:
        out.append(schema.Label.DEFORMATION.value)
    if schema.ActivityType.EARTHQUAKE in kinds:
        out.append(schema.Label.EARTHQUAKE.value)
    return out or [schema.Label.NON_DEFORMATION.value]


def _where(p: Pattern) -> str:
    dist = math.hypot(p.east_km, p.north_km)
    if dist < 1.0:
        return "at the summit"
    compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"][
        round(math.degrees(math.atan2(p.east_km, p.north_km)) / 45) % 8
    ]
    return f"{dist:.0f} km {compass} of the summit"


def caption(facts: PairFacts) -> str:
    """A caption in the spirit of the Thalia experts' ones, from the simulated facts."""
    days = (facts.secondary - facts.primary).days
    track = "ascending" if facts.direction == "A" else "descending"
    head = f"Interferogram {facts.primary:%Y-%m-%d} to {facts.secondary:%Y-%m-%d} ({days} days, {track} track) over {facts.volcano}."
    if facts.corrupted:
        return (
            head
            + " The interferogram is corrupted by unwrapping/processing stripes and shows no usable signal."
        )
    parts = []
    intensity = {c.code: c.name for c in schema.INTENSITY_LEVELS}
    for p in sorted(facts.patterns, key=lambda p: -p.fringes):
        if p.kind == schema.ActivityType.EARTHQUAKE:
            parts.append(
                f"an earthquake deformation pattern ({p.fringes:.1f} fringes, about {p.area_km2:.0f} km2) {_where(p)}"
            )
        else:
            motion = "uplift" if p.uplift else "subsidence"
            parts.append(
                f"a {intensity[p.intensity]}-intensity {p.kind}-type {motion} pattern ({p.fringes:.1f} fringes, "
                f"about {p.area_km2:.0f} km2) {_where(p)}"
            )
    body = (" Shows " + "; ".join(parts) + ".") if parts else " No ground deformation is visible."
    notes = []
    atmo = atmospheric_code(facts)
    if atmo & schema.ATMO_STRATIFIED:
        notes.append(
            f"vertical-stratification atmospheric fringes follow the topography ({facts.stratified_fringes:.1f} fringes)"
        )
    if atmo & schema.ATMO_TURBULENT:
        notes.append(
            f"turbulent atmospheric mixing adds {facts.turbulent_fringes:.1f} fringes of patchy signal"
        )
    if facts.ramp_fringes >= FLAG_FRINGES:
        notes.append(f"an orbital ramp of {facts.ramp_fringes:.1f} fringes crosses the frame")
    if facts.mean_coherence < LOW_COHERENCE:
        notes.append(f"coherence is low (mean {facts.mean_coherence:.2f})")
    tail = (" " + "; ".join(notes).capitalize() + ".") if notes else ""
    return head + body + tail


def annotation_record(unique_id: int, frame_id: str, facts: PairFacts) -> schema.AnnotationRecord:
    """The ``annotations.json`` record of a simulated pair (official field order)."""
    patterns = sorted(facts.patterns, key=lambda p: -p.fringes)
    intensity = {c.code: c.name for c in schema.INTENSITY_LEVELS}
    record: schema.AnnotationRecord = {
        "uniqueID": unique_id,
        "frameID": frame_id,
        "primary_date": schema.format_date(facts.primary),
        "secondary_date": schema.format_date(facts.secondary),
        "corrupted": int(facts.corrupted),
        "processing_error": 0,
        "glacier_fringes": 0,
        "orbital_fringes": int(facts.ramp_fringes >= FLAG_FRINGES),
        "atmospheric_fringes": atmospheric_code(facts),
        "low_coherence": int(facts.mean_coherence < LOW_COHERENCE),
        "no_info": 0,
        "image_artifacts": 0,
        "label": _labels(facts) if not facts.corrupted else [schema.Label.NON_DEFORMATION.value],
        "activity_type": [p.kind for p in patterns] if not facts.corrupted else [],
        "intensity_level": [intensity[p.intensity] for p in patterns] if not facts.corrupted else [],
        "phase": _phase(facts),
        "confidence": _confidence(facts),
        "is_crowd": int(len(patterns) > 1),
        "caption": caption(facts),
    }
    assert tuple(record) == schema.ANNOTATION_FIELDS  # the official order, by construction
    return record
