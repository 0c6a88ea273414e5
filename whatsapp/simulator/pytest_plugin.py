"""pytest fixtures for the WAHA simulator (filled in by the simulator's author)."""
