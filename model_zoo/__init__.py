"""The packaged model zoo (cards and safetensors weights), installed as package data ``thalia_viewer.model_zoo``."""
