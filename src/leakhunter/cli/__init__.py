"""Command-line interface: one module per command, all thin."""
