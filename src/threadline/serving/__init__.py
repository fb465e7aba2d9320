"""serving slice."""
