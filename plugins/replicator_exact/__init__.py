"""The Exact Online provider, registered through the ``replicator.providers``
entry point like any third-party plugin."""

from replicator_exact.provider import ENTITY_TYPES, ExactOnlineProvider

__all__ = ["ENTITY_TYPES", "ExactOnlineProvider"]
