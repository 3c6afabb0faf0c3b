"""Halo's list envelopes: ``{"record_count": n, "<plural key>": [...]}`` or a bare array.

The envelope is decoded as ``dict[str, msgspec.Raw]``: msgspec skips over the
records without building them, and the provider's decoder then turns the one raw
array into record Structs. The plural key is matched in any case (a few of Halo's
are capitalised).
"""

from __future__ import annotations

import msgspec

from replicator.errors import DecodeError, Where
from replicator.types import Response

_ENVELOPE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_COUNT = msgspec.json.Decoder(int | None)


def list_items(response: Response, key: str | None, where: Where, *,
               secret: bool) -> tuple[bytes | msgspec.Raw | None, int | None]:
    """(the raw record array or None if there is none, record_count) of a list page.

    Accepts ``{"record_count": n, "<key>": [...]}`` with the key in any case, and a
    bare array. Error messages quote the body only where it cannot hold a secret.
    """
    body = response.body
    start = body.lstrip()[:1]
    kind = response.content_type
    if not start or (kind and "json" not in kind) or start not in (b"[", b"{"):
        shown = ("body withheld: this resource holds credentials" if secret
                 else repr(body[:120].decode(errors="replace")))
        what = "an empty body" if not start else (kind or "no content type")
        raise DecodeError(f"expected a JSON list, got {what} ({len(body)} bytes, status "
                          f"{response.status}): {shown}", where)
    if start == b"[":
        return body, None
    try:
        envelope = _ENVELOPE.decode(body)
        raw_count = envelope.get("record_count")
        record_count = _COUNT.decode(raw_count) if raw_count is not None else None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"malformed list page: {exc}", where) from exc
    if record_count is not None and record_count < 0:
        raise DecodeError(f"negative record_count {record_count}", where)
    items = _find_list(envelope, key)
    if items is None and record_count not in (0, None):
        raise DecodeError(f"record_count is {record_count} but no {key or 'record'} list came: keys "
                          f"{sorted(envelope)[:20]}", where)
    if items is None and record_count is None:
        raise DecodeError(f"expected a {key or 'record'} list, got keys {sorted(envelope)[:20]}", where)
    return items, record_count


def _find_list(envelope: dict[str, msgspec.Raw], key: str | None) -> msgspec.Raw | None:
    # Halo's keys are plural and a few are capitalised (``Users``): match any case.
    # Without a known key (an endpoint thought to be a bare array), the one array.
    if key is not None:
        for name, value in envelope.items():
            if name.lower() == key.lower():
                return value
    arrays = [value for value in envelope.values() if bytes(memoryview(value)[:1]) == b"["]
    return arrays[0] if len(arrays) == 1 else None
