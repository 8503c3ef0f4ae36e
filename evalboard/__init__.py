"""evalboard: log, review and test the outputs of fine-tuned LLMs."""

from evalboard.client.connection import Evalboard, Recording, connect
from evalboard.client.writer import WriteError
from evalboard.store.records import CallValidationError

__all__ = ["CallValidationError", "Evalboard", "Recording", "WriteError", "connect"]
__version__ = "0.1.0"
