"""The app's views (``pn.viewable.Viewer`` subclasses), registered by the ``type`` names of layout specs."""

from __future__ import annotations

from typing import Final

from panel.viewable import Viewer

from thalia_viewer.app.views.dates_matrix import DatesMatrix
from thalia_viewer.app.views.edit_tools import EditTools
from thalia_viewer.app.views.label_card import LabelCard
from thalia_viewer.app.views.label_form import LabelForm
from thalia_viewer.app.views.layer_controls import LayerControls
from thalia_viewer.app.views.layer_map import LayerMap
from thalia_viewer.app.views.navigator import Navigator, Shortcuts
from thalia_viewer.app.views.predict_panel import PredictPanel
from thalia_viewer.app.views.review import AcceptPrediction, ReviewControls, ReviewTable, SideBySide
from thalia_viewer.app.views.save_panel import SavePanel
from thalia_viewer.app.views.search import SearchPanel
from thalia_viewer.app.views.stats import StatsView
from thalia_viewer.app.views.timeseries import TimeseriesStrip
from thalia_viewer.app.views.train import BeforeAfter, TrainControls, TrainCurves

#: ``type:`` name in a layout spec -> view class (each declares its own ``view_type``).
VIEW_TYPES: Final[dict[str, type[Viewer]]] = {
    cls.view_type: cls  # type: ignore[attr-defined]
    for cls in (
        Navigator,
        LayerControls,
        Shortcuts,
        LayerMap,
        LabelCard,
        DatesMatrix,
        TimeseriesStrip,
        EditTools,
        SavePanel,
        LabelForm,
        PredictPanel,
        ReviewControls,
        ReviewTable,
        SideBySide,
        AcceptPrediction,
        TrainControls,
        TrainCurves,
        BeforeAfter,
        SearchPanel,
        StatsView,
    )
}
#: Parameters a spec may not set (the app supplies them).
RESERVED: Final = ("name", "state", "edit")


def view_options() -> dict[str, list[str]]:
    """Option names a spec may give each view type: the view class's own parameters."""
    return {t: [p for p in cls.param if p not in RESERVED] for t, cls in VIEW_TYPES.items()}


__all__ = [
    "VIEW_TYPES",
    "AcceptPrediction",
    "BeforeAfter",
    "DatesMatrix",
    "EditTools",
    "LabelCard",
    "LabelForm",
    "LayerControls",
    "LayerMap",
    "Navigator",
    "PredictPanel",
    "ReviewControls",
    "ReviewTable",
    "SavePanel",
    "SearchPanel",
    "Shortcuts",
    "SideBySide",
    "StatsView",
    "TimeseriesStrip",
    "TrainControls",
    "TrainCurves",
    "view_options",
]
