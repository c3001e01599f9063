"""thalia-viewer: browse, correct and model the Thalia volcanic InSAR datacubes.

The library a notebook imports (every name loads its module on first use, so ``import thalia_viewer`` costs
no xarray, Panel, HoloViews, Datashader or torch; the model and view stacks load only when a name of theirs is
used):

>>> import thalia_viewer as tv
>>> ds = tv.open(root)                                    # a local folder or an fsspec URL
>>> frame = ds["124D_05291_081406"]                       # ds.frames lists the ids
>>> pv = frame["20180218_20180302"]                       # or frame[0], ds[pair], ds[frame_id, p, s]
>>> pv.record["label"], pv.phase.attrs["units"]
(['Deformation'], 'rad')
>>> image = pv.render(["phase", "mask"], width=300)       # a PIL image; pv.to_png() gives PNG bytes
>>> store = tv.AnnotationStore(store_path, dataset=ds)
>>> ann = store.read_merged(pv.pair)                      # the correction if any, else the source
>>> editor = tv.MaskEditor.from_masks(ann.masks)
>>> dyke = tv.MaskClass.from_names(tv.ActivityType.DYKE, tv.IntensityLevel.HIGH)
>>> editor.fill_polygon([[10, 10], [10, 40], [40, 40], [40, 10]], dyke)  # (row, col) vertices
Box(row0=10, row1=40, col0=10, col1=40)
>>> version = store.save_pair(pv.pair, editor.masks, ann.record, "ana", "a dyke", base=ann.version)
>>> [v.message for v in store.history(pair=pv.pair)]
['a dyke']

``tv.Predictor()`` runs the default model on a pair, ``tv.train`` / ``tv.evaluate`` / ``tv.predict_dataset``
fine-tune, score and batch-predict, ``tv.render`` draws any layers, and ``tv.app(root, mode="review")``
is the web app as a Panel viewable (show it in Jupyter or ``.servable()`` it).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

from .core import display as _display

try:
    __version__: str = version("thalia-viewer")
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

#: Public name -> (module, attribute); ``attribute`` None: the module itself.
_LAZY: Final[dict[str, tuple[str, str | None]]] = {
    # data
    "open": ("thalia_viewer.core.dataset", "open_dataset"),
    "open_dataset": ("thalia_viewer.core.dataset", "open_dataset"),
    "ThaliaDataset": ("thalia_viewer.core.dataset", "ThaliaDataset"),
    "Frame": ("thalia_viewer.core.frame", "Frame"),
    "Pair": ("thalia_viewer.core.pairs", "Pair"),
    "PairView": ("thalia_viewer.core.view", "PairView"),
    # the format
    "schema": ("thalia_viewer.core.schema", None),
    "Label": ("thalia_viewer.core.schema", "Label"),
    "Phase": ("thalia_viewer.core.schema", "Phase"),
    "ActivityType": ("thalia_viewer.core.schema", "ActivityType"),
    "IntensityLevel": ("thalia_viewer.core.schema", "IntensityLevel"),
    "Split": ("thalia_viewer.core.schema", "Split"),
    "LayerKind": ("thalia_viewer.core.schema", "LayerKind"),
    # errors
    "ThaliaError": ("thalia_viewer.core.errors", "ThaliaError"),
    "ConflictError": ("thalia_viewer.core.errors", "ConflictError"),
    # corrections
    "AnnotationStore": ("thalia_viewer.core.annotations.store", "AnnotationStore"),
    "default_store_path": ("thalia_viewer.core.annotations.store", "default_store_path"),
    "MaskEditor": ("thalia_viewer.core.editing.editor", "MaskEditor"),
    "MaskClass": ("thalia_viewer.core.editing.classes", "MaskClass"),
    "Workspace": ("thalia_viewer.core.editing.workspace", "Workspace"),
    "navigation": ("thalia_viewer.core.navigation", None),
    # models (torch loads when a model is built)
    "Predictor": ("thalia_viewer.ml.inference", "Predictor"),
    "ModelZoo": ("thalia_viewer.ml.zoo", "ModelZoo"),
    "DEFAULT_MODEL": ("thalia_viewer.ml.zoo", "DEFAULT_MODEL"),
    "train": ("thalia_viewer.ml.training", "train"),
    "TrainConfig": ("thalia_viewer.ml.training", "TrainConfig"),
    "evaluate": ("thalia_viewer.ml.training", "evaluate"),
    "predict_dataset": ("thalia_viewer.ml.batch", "predict_dataset"),
    # views
    "render": ("thalia_viewer.viz.png", "render_view"),
    "app": ("thalia_viewer.app", None),  # the package, callable: tv.app(root, mode=...) (see app/__init__.py)
}

# Every name of _LAZY but ``open``: ``from thalia_viewer import *`` must not hide the builtin ``open``
# (``open_dataset`` is the same function).
__all__ = [
    "DEFAULT_MODEL",
    "ActivityType",
    "AnnotationStore",
    "ConflictError",
    "Frame",
    "IntensityLevel",
    "Label",
    "LayerKind",
    "MaskClass",
    "MaskEditor",
    "ModelZoo",
    "Pair",
    "PairView",
    "Phase",
    "Predictor",
    "Split",
    "ThaliaDataset",
    "ThaliaError",
    "TrainConfig",
    "Workspace",
    "__version__",
    "app",
    "default_store_path",
    "evaluate",
    "navigation",
    "open_dataset",
    "predict_dataset",
    "render",
    "schema",
    "train",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562) and keep it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError as exc:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from exc
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_LAZY})


def _render_view(arrays: Any, keys: Any, width: int = 800, x_range: Any = None, y_range: Any = None) -> Any:
    """The figure renderer of the core's pair views: :func:`thalia_viewer.viz.png.render_view`, imported on
    the first figure (the core may not import the rendering layer)."""
    from .viz.png import render_view

    return render_view(arrays, keys, width=width, x_range=x_range, y_range=y_range)


_display.register_renderer(_render_view)

if TYPE_CHECKING:  # what type checkers and editors see
    from .core import navigation, schema
    from .core.annotations.store import AnnotationStore, default_store_path
    from .core.dataset import ThaliaDataset, open_dataset
    from .core.dataset import open_dataset as open  # noqa: F401  (not in __all__, see above)
    from .core.editing.classes import MaskClass
    from .core.editing.editor import MaskEditor
    from .core.editing.workspace import Workspace
    from .core.errors import ConflictError, ThaliaError
    from .core.frame import Frame
    from .core.pairs import Pair
    from .core.schema import Label, LayerKind, Phase, Split
    from .core.view import PairView
    from .ml.batch import predict_dataset
    from .ml.inference import Predictor
    from .ml.training import TrainConfig, evaluate, train
    from .ml.zoo import DEFAULT_MODEL, ModelZoo
    from .viz.png import render_view as render
