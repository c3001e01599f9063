"""Layer stack (layer and opacity per slot, bottom first), relief, and the mask overlays."""

from __future__ import annotations

from typing import Any, ClassVar

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.session.state import MASK_LAYERS, AppState
from thalia_viewer.core import schema


class LayerControls(Viewer):
    """Choose up to three stacked layers and their opacity; the bottom one is always shown."""

    view_type: ClassVar[str] = "layer_controls"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Layers and masks"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        s = self.state
        rows = []
        n = len(s.slots)
        for i, slot in enumerate(reversed(s.slots)):
            position = "top" if i == 0 else "bottom" if i == n - 1 else "middle"
            rows.append(
                pn.Row(
                    pn.widgets.Select.from_param(
                        slot.param.layer, label=f"Layer {n - i} ({position})", width=205, margin=(2, 5)
                    ),
                    pn.widgets.FloatSlider.from_param(
                        slot.param.opacity, label="Opacity", width=95, margin=(2, 5)
                    ),
                    sizing_mode="stretch_width",
                )
            )
        names = {schema.layer(k).title: k for k in MASK_LAYERS}
        self._layout = pn.Column(
            *rows,
            pn.widgets.Checkbox.from_param(s.param.relief, margin=(8, 10, 4, 10)),
            pn.pane.HTML("<div class='thalia-subhead'>Mask overlays</div>", margin=(6, 10, 0, 10)),
            pn.widgets.CheckButtonGroup.from_param(
                s.param.masks,
                options=names,
                label="",
                sizing_mode="stretch_width",
                color="primary",
                variant="outline",
                margin=(2, 10),
            ),
            pn.widgets.RadioButtonGroup.from_param(
                s.param.mask_style,
                label="",
                sizing_mode="stretch_width",
                color="primary",
                variant="outline",
                margin=(6, 10),
            ),
            pn.widgets.FloatSlider.from_param(
                s.param.mask_opacity, sizing_mode="stretch_width", margin=(2, 10)
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
