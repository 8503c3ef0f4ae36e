"""The dashboard application: the packaged Streamlit entry (`evalboard serve` runs entry.py),
the session that every entry script runs, and the page scripts (app_pages/)."""
