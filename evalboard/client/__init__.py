"""The logging client: `evalboard.connect()`, its background writer, spool and signal handling."""
