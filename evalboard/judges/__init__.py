"""Judges: model-graded checks, versioned in the store and measured against people.

- templates: the prompt a judge sends (safe str.format-style fields only)
- backends: a local transformers checkpoint or an OpenAI-compatible endpoint
- parsing: the verdict (pass/fail or a score, with a reason) from the judge's answer
- repository: versioned judges in the store; suggested: one judge per label of the taxonomy
- judging: one call judged, through the cache (cache.py); running: a judge over many calls
- alignment: κ, precision, recall, F1 against the human verdicts; align: few-shot re-tuning
"""
