"""Reading the security audit: the records for an export, and the chain checked against the signed checkpoints."""

from datetime import datetime

from dispatch import signing
from dispatch.events import Broken
from dispatch.models import SecurityRecord
from dispatch.services.audit import GENESIS, body_digest, link_digest

EXPORTED = ("seq", "at", "kind", "outcome", "username", "user_id", "address", "detail", "prev_hash", "hash")

ERR_PREV_HASH = "its prev_hash does not match the hash of the record before it"
ERR_EDITED = "its content does not match its hash (edited after it was written)"
ERR_GAP = "sequence gap: record {seq} is missing (deleted)"
ERR_REHASHED = (
    "its hash differs from the checkpoint signed at {signed_at} (key {key_id}): "
    "the audit between seq {first} and {seq} was rewritten and re-hashed"
)
ERR_TAIL_SIGNED = (
    "the audit ends at seq {last}, but seq {seq} was signed at {signed_at} (key {key_id}): "
    "records {first}..{seq} were deleted"
)


def audit_records(*, since: datetime | None = None):
    """Yield the numbered records in seq order (since a time, if given), each as a dict of EXPORTED."""
    records = SecurityRecord.objects.filter(seq__isnull=False).order_by("seq")
    if since is not None:
        records = records.filter(at__gte=since)
    yield from records.values(*EXPORTED).iterator(chunk_size=5000)


def audit_signed(checkpoints: dict[int, dict]) -> dict[int, dict]:
    """Return the v2 checkpoints (genuine, from checkpoints_signed) by the audit seq they sign."""
    return {point["audit_seq"]: point for point in checkpoints.values() if signing.is_v2(point)}


def verify_audit(*, checkpoints: dict[int, dict], batch: int = 5000) -> tuple[int, Broken | None]:
    """Walk the audit chain in seq order against the signed audit heads; return (records checked, first Broken or None)."""
    signed_heads = audit_signed(checkpoints)
    previous, checked, last_seq, signed_before = GENESIS, 0, 0, 0
    while records := list(SecurityRecord.objects.filter(seq__gt=last_seq).order_by("seq")[:batch]):
        for record in records:
            signed = signed_heads.get(record.seq)
            why = _link_fault(record, previous, last_seq) or (signed and _signed_fault(record, signed, signed_before))
            if why:
                return checked, Broken(f"audit seq {record.seq} ({record.kind})", why)
            previous, last_seq, checked = record.hash, record.seq, checked + 1
            signed_before = record.seq if signed else signed_before
    last_signed = max(signed_heads, default=0)
    if last_signed > last_seq:
        signed = signed_heads[last_signed]
        why = ERR_TAIL_SIGNED.format(last=last_seq, seq=last_signed, signed_at=signed["signed_at"],
                                     key_id=signed["key_id"], first=last_seq + 1)
        return checked, Broken(f"audit seq {last_seq + 1} (deleted)", why)
    return checked, None


def _link_fault(record, previous, last_seq):
    if record.seq != last_seq + 1:
        return ERR_GAP.format(seq=last_seq + 1)
    if record.prev_hash != previous:
        return ERR_PREV_HASH
    body = body_digest(at=record.at, kind=record.kind, outcome=record.outcome, username=record.username,
                       user_id=record.user_id, address=record.address, detail=record.detail)
    if link_digest(prev_hash=record.prev_hash, seq=record.seq, body_hash=body) != record.hash:
        return ERR_EDITED
    return None


def _signed_fault(record, signed, signed_before):
    if signed["audit_hash"] == record.hash:
        return None
    return ERR_REHASHED.format(signed_at=signed["signed_at"], key_id=signed["key_id"], first=signed_before + 1,
                               seq=record.seq)
