"""What the browser keeps for a session, so that nothing a person did is lost on a reload or a closed tab.

:class:`BrowserKeeper` is a tiny browser component of the editing modes:

- a warning before leaving the page while some pair has unsaved edits (``beforeunload``);
- a draft of the unsaved edits of each pair in the browser's ``localStorage`` (masks zlib + base64, see
  :mod:`thalia_viewer.core.editing.drafts`), written shortly after each edit, removed when the pair is
  saved or reloaded, and restored with a notice when the page opens that pair again;
- without a login, the name typed into "Your name", remembered for the next visit.

Why the browser and not the server: a draft must outlive the session (a reload makes a new one), land in
whichever server process serves the next page (``--num-procs``), and belong to the person at that browser
(without a login the server cannot tell two people apart; a typed name proves nothing). The browser is the
one place that is the same across a reload for that person. Drafts are scoped by the store and the login,
so two stores or two users on one browser do not see each other's drafts; a quota error evicts the oldest
drafts first and says so if it still does not fit.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import panel as pn
import param
from panel.custom import JSComponent

from thalia_viewer.app.messages import Level
from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.core.editing.drafts import DraftTooLarge
from thalia_viewer.core.pairs import Pair

FLUSH_DELAY_MS: Final = 700  # a draft is written this long after the last edit (a stroke is many events)
AUTHOR_KEY: Final = "thalia-viewer/author"
DRAFT_PREFIX: Final = "thalia-viewer/draft/"


def draft_scope(store: str, user: str | None) -> str:
    """A short id of (store, login): drafts of another store or another signed-in user are not offered."""
    return hashlib.sha1(f"{store}\n{user or ''}".encode()).hexdigest()[:12]


class BrowserKeeper(JSComponent):
    """Drafts, the remembered name and the leave-page warning of one editing session (see the module)."""

    unsaved = param.Boolean(default=False, doc="Warn before leaving the page")
    scope = param.String(default="", doc="Drafts of this store and login")
    remember_author = param.Boolean(default=True, doc="Keep the typed name in the browser (no login)")

    _esm = """
    export function render({ model }) {
      const AUTHOR = '%(author)s', PREFIX = '%(prefix)s';
      const key = (pair) => PREFIX + model.scope + '/' + pair;
      function drafts() {
        const out = [];
        for (let i = 0; i < localStorage.length; i++) {
          const k = localStorage.key(i);
          if (k && k.startsWith(PREFIX + model.scope + '/')) { out.push(k.slice((PREFIX + model.scope + '/').length)); }
        }
        return out;
      }
      function oldest() {
        let best = null, when = null;
        for (let i = 0; i < localStorage.length; i++) {
          const k = localStorage.key(i);
          if (!k || !k.startsWith(PREFIX)) { continue; }
          let t = '';
          try { t = JSON.parse(localStorage.getItem(k)).time || ''; } catch (e) { t = ''; }
          if (when === null || t < when) { best = k; when = t; }
        }
        return best;
      }
      function put(pair, draft) {
        const text = JSON.stringify(draft);
        for (let tries = 0; tries < 50; tries++) {
          try { localStorage.setItem(key(pair), text); return null; }
          catch (e) {
            const victim = oldest();
            if (victim === null || victim === key(pair)) { return String(e); }
            localStorage.removeItem(victim);
          }
        }
        return 'browser storage is full';
      }
      function leaving(e) {
        if (!model.unsaved) { return; }
        e.preventDefault();
        e.returnValue = '';
        return '';
      }
      window.addEventListener('beforeunload', leaving);
      model.on('remove', () => window.removeEventListener('beforeunload', leaving));
      model.on('msg:custom', (msg) => {
        if (msg.type === 'put') {
          const error = put(msg.pair, msg.draft);
          if (error !== null) { model.send_msg({type: 'not_kept', pair: msg.pair, error: error}); }
        } else if (msg.type === 'remove') {
          localStorage.removeItem(key(msg.pair));
        } else if (msg.type === 'get') {
          let draft = null;
          try { draft = JSON.parse(localStorage.getItem(key(msg.pair))); } catch (e) { draft = null; }
          model.send_msg({type: 'draft', pair: msg.pair, draft: draft});
        } else if (msg.type === 'author' && model.remember_author) {
          if (msg.value) { localStorage.setItem(AUTHOR, msg.value); } else { localStorage.removeItem(AUTHOR); }
        }
      });
      model.send_msg({type: 'hello', author: model.remember_author ? localStorage.getItem(AUTHOR) : null,
                      drafts: drafts()});
      const el = document.createElement('span');
      el.className = 'thalia-keeper';
      return el;
    }
    """ % {"author": AUTHOR_KEY, "prefix": DRAFT_PREFIX}  # noqa: UP031 (the ESM's braces)

    def __init__(self, edit: EditSession, **params: Any) -> None:
        who = edit.identity
        super().__init__(
            scope=draft_scope(edit.store.location, who.user),
            remember_author=not who.authenticated,
            width=0,
            height=0,
            margin=0,
            **params,
        )
        self.edit = edit
        self.in_browser: set[str] = set()  # pair keys the browser holds a draft of (as of the page's start)
        self._asked: set[str] = set()  # drafts already asked for in this session
        self._written: set[str] = set()  # drafts this session wrote or restored: the only ones it removes
        self._pending: set[Pair] = set()  # pairs whose draft is to be written
        self._scheduled = False
        self._warned: set[str] = set()
        self.sent: list[dict] = []  # the last messages sent to the page, drafts left out (tests read it)
        edit.param.watch(self._on_edit, "draft_revision")
        edit.param.watch(lambda e: setattr(self, "unsaved", e.new), "unsaved")
        edit.param.watch(self._on_author, "author")
        edit.state.param.watch(lambda *_: self._ask_for_draft(), "pair")
        self.unsaved = edit.unsaved

    # ------------------------------------------------------------------------------- from the page
    def _handle_msg(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "hello":
            self.in_browser = {str(k) for k in msg.get("drafts") or []}
            author = str(msg.get("author") or "").strip()
            if self.remember_author and author and not self.edit.author.strip():
                self.edit.author = author[:200]
            self._ask_for_draft()
        elif kind == "draft":
            self._restore(str(msg.get("pair") or ""), msg.get("draft"))
        elif kind == "not_kept":
            self._warn(str(msg.get("pair")), f"the browser could not keep a draft ({msg.get('error')})")

    def _ask_for_draft(self) -> None:
        pair = self.edit.pair
        if pair is None or pair.key not in self.in_browser or pair.key in self._asked:
            return
        self._asked.add(pair.key)
        self._send({"type": "get", "pair": pair.key})

    def _restore(self, key: str, draft: Any) -> None:
        edit = self.edit
        if edit.pair is None or edit.pair.key != key:
            self._asked.discard(key)  # the user moved on before it arrived: ask again when they come back
            return
        if not isinstance(draft, dict):
            self.in_browser.discard(key)
            return
        if edit.restore_draft(draft):
            self._written.add(key)
        elif not edit.dirty:
            self._send(
                {"type": "remove", "pair": key}
            )  # nothing left to restore (saved meanwhile, or the same)
            self.in_browser.discard(key)

    # ---------------------------------------------------------------------------------- to the page
    def _on_author(self, event: param.parameterized.Event) -> None:
        if self.remember_author:
            self._send({"type": "author", "value": str(event.new or "").strip()})

    def _on_edit(self, *_: Any) -> None:
        if self.edit.pair is None:
            return
        self._pending.add(self.edit.pair)
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            doc.add_timeout_callback(self.flush, FLUSH_DELAY_MS)

    def flush(self) -> None:
        """Write (or remove) the drafts of the pairs edited since the last flush."""
        self._scheduled = False
        pending, self._pending = self._pending, set()
        for pair in pending:
            try:
                draft = self.edit.draft(pair)
            except DraftTooLarge as exc:
                self._warn(pair.key, str(exc))
                continue
            if draft is None:
                if pair.key in self._written:  # saved, reloaded or undone: the draft is obsolete
                    self._send({"type": "remove", "pair": pair.key})
                    self._written.discard(pair.key)
                    self.in_browser.discard(pair.key)
            else:
                self._send({"type": "put", "pair": pair.key, "draft": draft})
                self._written.add(pair.key)
                self.in_browser.add(pair.key)
                self._asked.add(pair.key)  # this session's edits are the newest: never restore an older draft

    def _warn(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.edit.state.notify(Level.WARNING, f"{key}: {text} Save to keep these edits.")

    def _send(self, msg: dict) -> None:
        self.sent.append({k: v for k, v in msg.items() if k != "draft"})  # what was sent, without the payload
        del self.sent[:-100]
        self._send_msg(msg)
