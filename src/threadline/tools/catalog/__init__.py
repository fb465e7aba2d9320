"""Tool definitions, one module per platform; registry.registry() gathers them."""
