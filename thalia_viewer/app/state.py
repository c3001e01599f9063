"""Moved to :mod:`thalia_viewer.app.session.state`; this name stays for the views that still import it here
(the map, the time-series strip, the dates matrix, the label card) until they import the new one."""

from thalia_viewer.app.session.state import MASK_LAYERS, NONE, VALUE_LAYERS, AppState

__all__ = ["MASK_LAYERS", "NONE", "VALUE_LAYERS", "AppState"]
