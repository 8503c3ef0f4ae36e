"""Every model module, imported once, so `Base.metadata` describes the whole schema."""

from evalboard.store import models, review_models
from evalboard.store.models import Base

__all__ = ["Base", "models", "review_models"]
