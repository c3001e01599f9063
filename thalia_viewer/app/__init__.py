"""The Panel app: ``AppState`` (what is shown), views (``Viewer``s), the layout spec reader and ``serve``.

Served with ``panel serve thalia_viewer/app/main.py --args ROOT`` or ``thalia-viewer serve ROOT``. Nothing
outside ``thalia_viewer.app`` imports Panel.
"""
