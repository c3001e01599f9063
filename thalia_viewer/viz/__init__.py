"""Rendering: 2-D xarray layers of a pair -> screen-resolution aggregates, RGBA images and PNG figures.

Datashader aggregates at the size of the view (never the full frame), colorcet gives the colour maps,
Pillow draws the figures. No Panel here; the app wraps these functions.
"""
