"""The operator surface: /admin/v1 routes and the services the CLI also calls."""
