"""OAuth2: flows declared by providers, and the per-connection token manager."""

from replicator.auth.flows import AuthFlow, OAuth2ClientCredentials, OAuth2Refresh
from replicator.auth.tokens import TokenManager, fingerprint

__all__ = ["AuthFlow", "OAuth2ClientCredentials", "OAuth2Refresh", "TokenManager", "fingerprint"]
