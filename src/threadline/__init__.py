"""Threadline: self-hostable advertising inside AI conversations."""

__version__ = "0.1.0"
