"""Calls from other tools' traffic: the OTLP/HTTP receiver and the OpenAI-compatible proxy."""
