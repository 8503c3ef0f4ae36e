"""Streamlit building blocks; with evalboard/app/ (the entry and its pages) the only package
importing streamlit. navigation.py is the one registry of pages."""
