"""Import every check module once, so the registry is complete."""

from evalboard.checks import (
    call_level,  # noqa: F401
    custom,  # noqa: F401
    embedded,  # noqa: F401
    judge,  # noqa: F401
    model_based,  # noqa: F401
    ner,  # noqa: F401
    quality,  # noqa: F401
    reference,  # noqa: F401
    structure,  # noqa: F401
    text,  # noqa: F401
)
