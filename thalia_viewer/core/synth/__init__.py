"""Physics-based synthetic Thalia cubes: deformation sources, atmosphere, terrain, coherence, writer."""
