"""Cross-cutting helpers with no business rules."""
