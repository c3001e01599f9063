"""Moved to :mod:`thalia_viewer.app.session.search`; this name stays for the dates matrix, which still
imports it here, until it imports the new one."""

from thalia_viewer.app.session.search import catalog_for, prepare_catalog

__all__ = ["catalog_for", "prepare_catalog"]
