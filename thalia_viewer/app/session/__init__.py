"""The app's session models: plain ``param`` state that imports no Panel, Bokeh or HoloViews.

What one browser session shows and does, drivable from tests and notebooks without a browser; the views in
:mod:`thalia_viewer.app.views` build widgets from them (``from_param``) and watch them. An import-linter
contract in ``pyproject.toml`` keeps Panel out of this package.

- :mod:`.state`: :class:`~.state.AppState`, the dataset, frame, pair and display choices.
- :mod:`.annotate`: :class:`~.annotate.EditSession`, tools and staged edits (UI over
  :class:`~thalia_viewer.core.editing.workspace.Workspace`).
- :mod:`.overlay`: the annotation store's saved corrections shown in every mode.
- :mod:`.predict`, :mod:`.review`, :mod:`.train`: a model on the pair on screen, over many pairs, fine-tuning.
- :mod:`.search`: the catalogue query and its results.
"""
