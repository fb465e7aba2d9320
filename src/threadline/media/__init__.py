"""media slice."""
