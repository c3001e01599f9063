"""CSS and icons of the app, installed as package data ``thalia_viewer.assets``."""
