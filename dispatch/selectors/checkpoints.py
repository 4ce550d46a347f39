"""The event log's signed checkpoints, from the file outside the database and the table, which must agree."""

from pathlib import Path

from django.conf import settings
from django.db import connection

from dispatch import signing
from dispatch.events import Broken
from dispatch.models import Checkpoint

ERR_NOT_IN_TABLE = "it is in the checkpoints file but not in the table (deleted from the database)"
ERR_NOT_IN_FILE = "it is in the table but not in the checkpoints file (removed from the file)"
ERR_DIFFERS = "the table's copy differs from the file's (one of them was altered)"


def checkpoints_file() -> Path:
    """Return the checkpoints file: EVENT_CHECKPOINTS_FILE, or one per database in the data folder."""
    if settings.EVENT_CHECKPOINTS_FILE:
        return Path(settings.EVENT_CHECKPOINTS_FILE)
    return Path(settings.DATA_DIR) / f"checkpoints-{connection.settings_dict['NAME']}.jsonl"


def checkpoints_keyring(public_keys: str | None = None) -> dict:
    """Return the public keys checkpoints may be signed with: those in a given file, else the signing key's keyring."""
    if public_keys:
        return signing.keyring_parse(Path(public_keys).read_text())
    key = Path(settings.EVENT_SIGNING_KEY)
    ring = signing.keyring_path(key)
    keyring = signing.keyring_parse(ring.read_text()) if ring.exists() else {}
    if key.exists():  # the key in use, even if its keyring file was lost
        public = signing.key_load(key).public_key()
        keyring[signing.key_id(public)] = public
    return keyring


def checkpoint_point(row: dict) -> dict:
    """Return a table row (its values) as the file holds it: v1 without the audit's head, v2 with it."""
    point = {name: row[name] for name in signing.FIELDS}
    point["signed_at"] = signing.iso(row["signed_at"])
    if row.get("audit_seq") is not None:
        point.update(audit_seq=row["audit_seq"], audit_hash=row["audit_hash"])
    return point


def checkpoints_table() -> list[dict]:
    """Return the table's checkpoints in seq order, each as the file would hold it."""
    rows = Checkpoint.objects.order_by("seq").values(*signing.FIELDS_V2)
    return [checkpoint_point(row) for row in rows.iterator(chunk_size=5000)]


def checkpoints_signed(*, keyring: dict) -> tuple[dict[tuple[int, int], dict], Broken | None]:
    """Return the genuine checkpoints by (seq, audit seq) (signing.order_key), or the first one forged, altered,
    or missing from the file or the table.

    The file, when there is one, must hold every checkpoint of the table except those signed
    after its last line (a worker stopped between the commit and the copy; the next one copies).
    """
    path = checkpoints_file()
    # The file before the table: a line is copied only after its row committed, so a line the
    # table lacks was deleted from the table, never copied ahead of it.
    in_file, broken = _file_points(path, keyring) if path.exists() else ({}, None)
    if broken:
        return {}, broken
    in_table = {signing.order_key(point): point for point in checkpoints_table()}
    file_last = max(in_file, default=(-1, -1))
    for key in sorted(in_file.keys() | in_table.keys()):
        why = _disagreement(in_file.get(key), in_table.get(key), file_last, keyring)
        if why:  # the file is the reference: a fault is the table's unless the table lacks the checkpoint
            where = "file" if why == ERR_NOT_IN_TABLE else "table"
            return {}, Broken(f"the checkpoint at seq {key[0]} (in the {where})", why)
    return in_file | in_table, None


def checkpoints_by_seq(checkpoints: dict[tuple[int, int], dict]) -> dict[int, dict]:
    """Return the checkpoints by the event seq they sign (the latest of those that sign the same one)."""
    return {key[0]: point for key, point in sorted(checkpoints.items())}


def _file_points(path, keyring):
    with open(path) as lines:
        points, bad, why = signing.file_read(lines, keyring)
    if bad is not None:
        return {}, Broken(f"line {bad} of {path}", why)
    return {signing.order_key(point): point for point in points}, None


def _disagreement(in_file, in_table, file_last, keyring):
    if in_table is None:
        return ERR_NOT_IN_TABLE
    if in_file is None:  # only the table's: check its signature here, and that the file is merely behind
        behind = signing.order_key(in_table) > file_last
        return signing.checkpoint_fault(in_table, keyring) or (None if behind else ERR_NOT_IN_FILE)
    return None if in_file == in_table else (signing.checkpoint_fault(in_table, keyring) or ERR_DIFFERS)
