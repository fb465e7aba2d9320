"""insights slice."""
