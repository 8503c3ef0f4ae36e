"""Import and export: other tools' logs in, calls and review data out."""
