"""The dashboard's pages, one module per area; routes.py mounts them."""
