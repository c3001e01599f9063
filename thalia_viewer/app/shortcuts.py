"""Keyboard shortcuts of the app: a tiny browser component that forwards key presses to Python.

Keys typed into a text box, a select or a slider are left alone; modifier combinations (Ctrl+..., Alt+...)
too, so the browser's own shortcuts keep working, except the Ctrl (Cmd) combinations a mode lists, named
``Ctrl+z`` / ``Ctrl+Shift+z`` (undo / redo in annotate). A forwarded key never scrolls the page (its default is
prevented) and reaches Python as one message per press, handled in order: pressed 30 times in a row, ``j``
moves 30 pairs.

Navigation (``NAVIGATION_SHORTCUTS``: pairs and primary dates) is the app's, the same in every mode; a layout's
``shortcuts`` view adds the display toggles and documents them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import param
from panel.custom import JSComponent

from thalia_viewer.app import steplog
from thalia_viewer.app.messages import escape


@dataclass(frozen=True)
class Shortcut:
    """Keys (``KeyboardEvent.key`` values), what they do (shown in the UI) and the action's name."""

    keys: tuple[str, ...]
    description: str
    action: str


#: Pair and date stepping: the same keys in every mode (the app listens to them, whatever its layout).
NAVIGATION_SHORTCUTS: Final = (
    Shortcut(("j", "ArrowRight"), "next pair", "next_pair"),
    Shortcut(("k", "ArrowLeft"), "previous pair", "previous_pair"),
    Shortcut(("]",), "next primary date (closest baseline)", "next_primary"),
    Shortcut(("[",), "previous primary date (closest baseline)", "previous_primary"),
)
#: Display toggles of the ``shortcuts`` view.
DISPLAY_SHORTCUTS: Final = (
    Shortcut(("m",), "mask overlays on / off", "toggle_masks"),
    Shortcut(("o",), "mask style: fill, outline, both", "cycle_mask_style"),
)
#: Every shortcut of the explore mode, in the order of the help card.
SHORTCUTS: Final = NAVIGATION_SHORTCUTS + DISPLAY_SHORTCUTS
KEY_NAMES: Final = {
    "ArrowRight": "→",
    "ArrowLeft": "←",
    "Ctrl+z": "Ctrl+Z",
    "Ctrl+y": "Ctrl+Y",
    "Ctrl+Shift+z": "Ctrl+Shift+Z",
}


def help_html(shortcuts: tuple[Shortcut, ...] = SHORTCUTS) -> str:
    """The shortcuts as an HTML table of ``<kbd>`` keys and descriptions."""
    rows = "".join(
        "<tr><td>"
        + " ".join(f"<kbd>{escape(KEY_NAMES.get(k, k))}</kbd>" for k in s.keys)
        + f"</td><td>{escape(s.description)}</td></tr>"
        for s in shortcuts
    )
    return f"<table class='thalia-keys'>{rows}</table>"


class KeyboardShortcuts(JSComponent):
    """Listens to key presses on the whole page and calls ``on_key(key)`` in Python for the listed keys."""

    keys = param.List(default=[k for s in SHORTCUTS for k in s.keys], item_type=str, doc="Keys to forward")

    _esm = """
    export function render({ model }) {
      function editing(e) {
        for (const n of (e.composedPath ? e.composedPath() : [e.target])) {
          if (!n || !n.tagName) { continue; }
          const tag = n.tagName.toLowerCase();
          if (tag === 'input' || tag === 'textarea' || tag === 'select' || n.isContentEditable) { return true; }
          if (n.getAttribute && n.getAttribute('role') === 'slider') { return true; }
        }
        return false;
      }
      function handler(e) {
        if (e.altKey) { return; }
        // Ctrl (Cmd on a Mac) combinations are forwarded as 'Ctrl+z' / 'Ctrl+Shift+z' when listed, else left alone
        const key = (e.ctrlKey || e.metaKey) ? 'Ctrl+' + (e.shiftKey ? 'Shift+' : '') + e.key.toLowerCase() : e.key;
        if (!model.keys.includes(key) || editing(e)) { return; }
        e.preventDefault();  // no scrolling, no typing, no browser shortcut: the key is ours
        model.send_msg({key, t: performance.timeOrigin + performance.now()});  // t: when sent, ms since the epoch
      }
      document.addEventListener('keydown', handler);
      // the keys some component forwards on this page (the map swaps a prefetched pair in on a step key it sees here)
      const listed = window.__thaliaKeys = window.__thaliaKeys || new Map();
      const keys = [...model.keys];
      for (const k of keys) { listed.set(k, (listed.get(k) || 0) + 1); }
      model.on('remove', () => {
        document.removeEventListener('keydown', handler);
        for (const k of keys) { listed.set(k, (listed.get(k) || 1) - 1); }
      });
      const el = document.createElement('span');
      el.className = 'thalia-shortcuts';
      return el;
    }
    """

    def __init__(self, on_key: Callable[[str], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.on_key = on_key  # called with the key (a KeyboardEvent.key string); not sent to the browser

    def _handle_msg(self, msg: Any) -> None:
        key = msg.get("key") if isinstance(msg, dict) else None
        if key in self.keys and self.on_key is not None:
            sent = msg.get("t")
            steplog.timed_key(self.on_key, sent / 1000 if isinstance(sent, (int, float)) else None, key)


def dispatcher(
    actions: dict[str, Callable[[], None]], shortcuts: tuple[Shortcut, ...] = SHORTCUTS
) -> Callable[[str], None]:
    """A ``on_key`` callback calling ``actions[shortcut.action]`` for the shortcut of each key."""
    by_key = {k: s.action for s in shortcuts for k in s.keys}

    def on_key(key: str) -> None:
        action = actions.get(by_key.get(key, ""))
        if action is not None:
            action()

    return on_key
