"""Streamlit building blocks; the only package besides app_pages/ and app.py importing streamlit."""
