"""The Horus Office provider, registered through the ``replicator.providers`` entry
point like any third-party plugin."""

from replicator_horus.oauth import code_exchange
from replicator_horus.options import HorusOptions
from replicator_horus.provider import MODIFIED_MARGIN, SIDELOADS, HorusProvider

__all__ = ["MODIFIED_MARGIN", "SIDELOADS", "HorusOptions", "HorusProvider", "code_exchange"]
