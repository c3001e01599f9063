"""Layout specs of the app's modes (YAML), installed as package data ``thalia_viewer.layouts``."""
