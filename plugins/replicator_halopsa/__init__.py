"""The HaloPSA provider, registered through the ``replicator.providers`` entry point."""

from replicator_halopsa.provider import ENDPOINTS, HaloPSAProvider

__all__ = ["ENDPOINTS", "HaloPSAProvider"]
