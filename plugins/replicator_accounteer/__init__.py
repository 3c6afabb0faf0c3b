"""The Accounteer provider, registered through the ``replicator.providers`` entry
point (``accounteer = "replicator_accounteer:AccounteerProvider"``) like any
third-party plugin. Start reading at :mod:`replicator_accounteer.provider`."""

from replicator_accounteer.provider import AccounteerProvider

__all__ = ["AccounteerProvider"]
