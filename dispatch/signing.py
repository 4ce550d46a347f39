"""Sign the event log's head with Ed25519, and check signed checkpoints with the public keys alone.

Standard library and `cryptography` only, no Django: the run command creates the key before
Django starts (config/stack.py), and an auditor checks an exported file without the project:

    python3 signing.py checkpoints.jsonl event_public_keys.pem

A checkpoint is one JSON object {seq, hash, signed_at, key_id, signature}; the signature covers
the canonical text "geodispatch-checkpoint:v1:<seq>:<hash>:<signed_at>:<key_id>" (UTF-8), so
`openssl pkeyutl -verify -rawin` can check it too. Version 2 adds the security audit's head,
{…, audit_seq, audit_hash}, signed as
"geodispatch-checkpoint:v2:<seq>:<hash>:<audit_seq>:<audit_hash>:<signed_at>:<key_id>"; a v1
checkpoint (no audit fields) still verifies as v1.
"""

import base64
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "geodispatch-checkpoint:v1"
PREFIX_V2 = "geodispatch-checkpoint:v2"
FIELDS = ("seq", "hash", "signed_at", "key_id", "signature")
AUDIT_FIELDS = ("audit_seq", "audit_hash")
FIELDS_V2 = FIELDS + AUDIT_FIELDS
SIGNED = ("seq", "hash", "signed_at", "key_id")
PEM_BEGIN = "-----BEGIN PUBLIC KEY-----"

ERR_MALFORMED = "it is not a checkpoint (a line edited or torn)"
ERR_UNKNOWN_KEY = "it is signed by key {key_id}, which is not among the known public keys (forged)"
ERR_SIGNATURE = "its signature does not verify with key {key_id} (forged or altered)"
ERR_ORDER = "its seq is not above the previous checkpoint's {previous} (lines reordered or repeated)"


def keyring_path(key_path) -> Path:
    """Return the file beside the signing key that keeps every public key it has had, newest last."""
    return Path(f"{key_path}.pub")


def key_create(path) -> str:
    """Create an Ed25519 signing key file (mode 0600) and add its public key to the keyring; return it as PEM."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key that signed checkpoints; 0600 from the first byte.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
        file.write(pem)
    public = public_pem(key.public_key())
    with open(keyring_path(path), "a") as keyring:  # appended: a rotated key's public half stays
        keyring.write(public)
    return public


def key_load(path) -> Ed25519PrivateKey:
    """Return the signing key kept in a PEM file."""
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def public_pem(public: Ed25519PublicKey) -> str:
    """Return a public key as PEM text."""
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(public: Ed25519PublicKey) -> str:
    """Return a key's id: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def keyring_parse(text: str) -> dict[str, Ed25519PublicKey]:
    """Return the public keys in PEM text (several may follow each other) by key id."""
    keys = {}
    for block in text.split(PEM_BEGIN)[1:]:
        public = serialization.load_pem_public_key((PEM_BEGIN + block).encode())
        keys[key_id(public)] = public
    return keys


def iso(moment: datetime) -> str:
    """Return the one text of an instant that checkpoints sign: UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(*, seq: int, hash: str, signed_at: str, key_id: str, audit_seq: int | None = None,
              audit_hash: str | None = None) -> bytes:
    """Return the text a checkpoint's signature covers: v2 with the audit's head, v1 without."""
    if audit_seq is not None:
        return f"{PREFIX_V2}:{seq}:{hash}:{audit_seq}:{audit_hash}:{signed_at}:{key_id}".encode()
    return f"{PREFIX}:{seq}:{hash}:{signed_at}:{key_id}".encode()


def is_v2(point: dict) -> bool:
    """Tell whether a checkpoint signs the security audit's head too."""
    return point.get("audit_seq") is not None


def order_key(point: dict) -> tuple[int, int]:
    """Return a checkpoint's place in the record: its event seq, then its audit seq (a v1 checkpoint first).

    A checkpoint may sign the audit alone (no new event since the last one): same seq, a higher audit seq.
    """
    return point["seq"], (point["audit_seq"] if is_v2(point) else -1)


def checkpoint_sign(key: Ed25519PrivateKey, *, seq: int, hash: str, signed_at: datetime, audit_seq: int | None = None,
                    audit_hash: str | None = None) -> dict:
    """Return a signed checkpoint of the log's head at seq (v2: and of the audit's head at audit_seq)."""
    point = {"seq": seq, "hash": hash, "signed_at": iso(signed_at), "key_id": key_id(key.public_key())}
    if audit_seq is not None:
        point.update(audit_seq=audit_seq, audit_hash=audit_hash)
    point["signature"] = base64.b64encode(key.sign(canonical(**point))).decode()
    return point


def checkpoint_line(point: dict) -> str:
    """Return a checkpoint as one line of the checkpoints file."""
    fields = FIELDS_V2 if is_v2(point) else FIELDS
    return json.dumps({name: point[name] for name in fields}, sort_keys=True, separators=(",", ":")) + "\n"


def checkpoint_parse(line: str) -> dict | None:
    """Return the checkpoint a line holds, or None if it holds none."""
    try:
        point = json.loads(line)
    except ValueError:
        return None
    if not isinstance(point, dict) or sorted(point) not in (sorted(FIELDS), sorted(FIELDS_V2)):
        return None
    if type(point["seq"]) is not int or ("audit_seq" in point and type(point["audit_seq"]) is not int):
        return None
    return point


def checkpoint_fault(point: dict, keyring: dict[str, Ed25519PublicKey]) -> str | None:
    """Return why a checkpoint is not a genuine one signed by a known key, or None."""
    public = keyring.get(point["key_id"])
    if public is None:
        return ERR_UNKNOWN_KEY.format(key_id=point["key_id"])
    try:
        signature = base64.b64decode(point["signature"], validate=True)
        fields = {name: point[name] for name in (SIGNED + AUDIT_FIELDS if is_v2(point) else SIGNED)}
        public.verify(signature, canonical(**fields))
    except (InvalidSignature, ValueError):
        return ERR_SIGNATURE.format(key_id=point["key_id"])
    return None


def file_read(lines, keyring) -> tuple[list[dict], int | None, str | None]:
    """Check each line of a checkpoints file; return (the checkpoints before the first bad line, its number, why)."""
    points, previous = [], (0, -1)
    for number, line in enumerate(lines, start=1):
        point = checkpoint_parse(line)
        why = ERR_MALFORMED if point is None else checkpoint_fault(point, keyring)
        if why is None and order_key(point) <= previous:
            why = ERR_ORDER.format(previous=previous[0])
        if why:
            return points, number, why
        points.append(point)
        previous = order_key(point)
    return points, None, None


def main(argv) -> int:
    """Check a checkpoints file against a public keys file; print the verdict; return the exit status."""
    if len(argv) != 2:
        print("usage: python3 signing.py CHECKPOINTS_FILE PUBLIC_KEYS_FILE", file=sys.stderr)
        return 2
    keyring = keyring_parse(Path(argv[1]).read_text())
    with open(argv[0]) as lines:
        points, bad, why = file_read(lines, keyring)
    if bad is not None:
        print(f"BROKEN at line {bad} of {argv[0]}: {why}", file=sys.stderr)
        return 1
    print(f"OK: {len(points)} checkpoints, every signature verified with {len(keyring)} public key(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
