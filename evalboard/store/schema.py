"""Every model module, imported once, so `Base.metadata` describes the whole schema."""

from evalboard.store import (
    case_models,
    judge_models,
    metric_models,
    models,
    monitor_models,
    pairwise_models,
    review_models,
    rollup_models,
    run_models,
    team_models,
    user_models,
)
from evalboard.store.models import Base

__all__ = ["Base", "case_models", "judge_models", "metric_models", "models", "monitor_models",
           "pairwise_models", "review_models", "rollup_models", "run_models", "team_models",
           "user_models"]
