"""edge-participant: a LiveKit room participant for single-board computers."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
