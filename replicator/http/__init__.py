"""HTTP: the pooled transport and the retry policy."""

from replicator.http.retry import Backoff
from replicator.http.transport import Transport, check_status, error_detail

__all__ = ["Backoff", "Transport", "check_status", "error_detail"]
