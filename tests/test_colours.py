"""Overlays read on the phase: class colours distinct from each other (also for colour-blind eyes), from every
colour of the cyclic phase map, and the version diff's colours distinct from the classes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from thalia_viewer.core import schema
from thalia_viewer.viz import elements
from thalia_viewer.viz.colormaps import colormap_for
from thalia_viewer.viz.colorscience import (
    CVD_KINDS,
    delta_e,
    min_distance_to,
    min_pairwise,
    over,
    simulate_cvd,
    srgb_to_lab,
)
from thalia_viewer.viz.shade import OUTLINE_RGBA

#: CIEDE2000 thresholds: ~2 is a just noticeable difference, 10 an obvious one, 20 different colour names.
BETWEEN_CLASSES = 20.0
BETWEEN_CLASSES_CVD = 10.0
FROM_PHASE = 15.0
FILL_ALPHA = 0.45  # the default fill opacity (layouts/*.yaml)
FILL_SHIFT = 6.0  # a difference seen at a glance between two areas side by side

TABLES = {v: [c for c in t if c.code] for v, t in schema.MASK_CLASSES.items()}
#: Every class of the three tables, one per colour (the earthquake classes share theirs on purpose, and so do
#: the two raster-only "not placed" classes).
CLASSES = {c.color: c.name for t in TABLES.values() for c in t}
PHASE = colormap_for("phase")


def test_colour_science_matches_published_values():
    # CIEDE2000 test data of Sharma, Wu & Dalal (2005), pairs 1 and 7
    assert float(delta_e(np.array([50, 2.6772, -79.7751]), np.array([50, 0, -82.7485]))) == pytest.approx(
        2.0425, abs=1e-3
    )
    assert float(delta_e(np.array([50, 0, 0]), np.array([50, -1, 2]))) == pytest.approx(2.3669, abs=1e-3)
    np.testing.assert_allclose(srgb_to_lab("#ff0000")[0], [53.24, 80.09, 67.20], atol=0.02)
    # a deuteranope sees red and green alike, a tritanope does not
    red, green = "#d62728", "#2ca02c"
    deut = srgb_to_lab(simulate_cvd([red, green], "deuteranopia"))
    trit = srgb_to_lab(simulate_cvd([red, green], "tritanopia"))
    assert delta_e(deut[0], deut[1]) < 12 < delta_e(trit[0], trit[1])


def test_earthquakes_share_one_colour_and_every_other_class_has_its_own():
    quakes = {
        schema.class_by_name(schema.DEFORMATION_CLASSES, "Earthquake").color,
        schema.class_by_name(schema.ACTIVITY_TYPES, "Earthquake").color,
        schema.class_by_name(schema.INTENSITY_LEVELS, "None").color,
    }
    assert len(quakes) == 1
    assert schema.UNPLACED_ACTIVITY_CLASS.color == schema.UNPLACED_INTENSITY_CLASS.color
    n_classes = sum(len(t) for t in TABLES.values())
    assert len(CLASSES) == n_classes - 3  # three earthquake classes, one colour; two "not placed", one colour


def test_every_class_is_distinct_from_every_other_for_all_eyes():
    colours = list(CLASSES)
    assert min_pairwise(colours) >= BETWEEN_CLASSES
    for kind in CVD_KINDS:
        assert min_pairwise(colours, kind) >= BETWEEN_CLASSES_CVD, kind
    dyke = schema.class_by_name(schema.ACTIVITY_TYPES, "Dyke").color
    medium = schema.class_by_name(schema.INTENSITY_LEVELS, "Medium").color
    assert delta_e(srgb_to_lab(dyke)[0], srgb_to_lab(medium)[0]) >= BETWEEN_CLASSES  # once "orange vs salmon"


def test_every_class_is_distinct_from_all_phase_colours():
    distances = min_distance_to(list(CLASSES), PHASE)
    worst = min(zip(distances, CLASSES.values(), strict=True))
    assert worst[0] >= FROM_PHASE, f"{worst[1]} is only {worst[0]:.1f} from a phase colour"


def test_a_fill_changes_the_phase_under_it_visibly_and_keeps_classes_apart():
    """Over any phase colour, a class fill at the default opacity shifts it visibly (beside the unfilled phase at
    the region's edge), and two classes filled over the same phase colour stay distinguishable."""
    bg = srgb_to_lab(PHASE)
    fills = {name: srgb_to_lab(over(colour, FILL_ALPHA, PHASE)) for colour, name in CLASSES.items()}
    for name, lab in fills.items():
        assert delta_e(lab, bg).min() >= FILL_SHIFT, name
    for (a, la), (b, lb) in itertools.combinations(fills.items(), 2):
        assert np.median(delta_e(la, lb)) >= FILL_SHIFT, (a, b)


def test_intensity_darkens_as_it_grows():
    lightness = [
        srgb_to_lab(schema.class_by_name(schema.INTENSITY_LEVELS, n).color)[0, 0]
        for n in ("Low", "Medium", "High")
    ]
    assert lightness == sorted(lightness, reverse=True)


def test_diff_colours_are_distinct_from_the_classes_and_from_each_other():
    added, removed = (c[:7] for c in elements.DIFF_COLORS[1:3])
    mogi = schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").color
    assert delta_e(srgb_to_lab(removed)[0], srgb_to_lab(mogi)[0]) >= BETWEEN_CLASSES
    assert min_distance_to([added, removed], list(CLASSES)).min() >= BETWEEN_CLASSES
    assert delta_e(srgb_to_lab(added)[0], srgb_to_lab(removed)[0]) >= 40
    for kind in CVD_KINDS:
        assert min_pairwise([added, removed], kind) >= BETWEEN_CLASSES_CVD, kind


def test_region_edges_stand_out_against_the_classes_and_the_phase():
    edge = "#" + "".join(f"{v:02x}" for v in OUTLINE_RGBA[:3])
    assert min_distance_to([edge], list(CLASSES))[0] >= 30  # the white line against the dark band inside it
    assert min_distance_to([edge], PHASE)[0] >= 10
