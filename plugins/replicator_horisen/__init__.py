"""The HORISEN Finance Documents provider, registered through the
``replicator.providers`` entry point like any third-party plugin."""

from replicator_horisen.provider import HorisenProvider

__all__ = ["HorisenProvider"]
