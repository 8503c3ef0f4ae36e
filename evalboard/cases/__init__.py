"""Test cases: drafts, versioned storage, files (YAML/JSONL), promotion from calls."""
