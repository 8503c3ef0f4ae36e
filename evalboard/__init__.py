"""evalboard: log, review and test the outputs of fine-tuned LLMs."""

from evalboard.client import Evalboard, Recording, connect
from evalboard.store.records import CallValidationError
from evalboard.writer import WriteError

__all__ = ["CallValidationError", "Evalboard", "Recording", "WriteError", "connect"]
__version__ = "0.1.0"
