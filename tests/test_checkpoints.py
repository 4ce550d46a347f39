"""Signed checkpoints: an owner who rewrites the event log, even re-hashing it end to end, is caught.

Each attack is carried out as the database owner would: the append-only triggers switched off,
the chain recomputed with dispatch.events' own digest functions, the event head put right.
"""

import base64
import shutil
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dispatch import signing
from dispatch.events import GENESIS, body_digest, link_digest
from dispatch.management.commands.run_dispatch_worker import worker_loop
from dispatch.models import Checkpoint, Event, EventHead
from dispatch.services import checkpoint_sign_due, incident_report
from tests.commands import command_complaint, command_output

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def key(settings, tmp_path):
    """Sign with a fresh key of this test's own; checkpoints go to this test's own file."""
    path = tmp_path / "event_signing_key"
    signing.key_create(path)
    settings.EVENT_SIGNING_KEY = str(path)
    settings.EVENT_CHECKPOINTS_FILE = str(tmp_path / "checkpoints.jsonl")
    settings.CHECKPOINT_INTERVAL_S = 60
    settings.CHECKPOINT_EVERY = 1000
    return path


def report(cast, title):
    """Report a flood in 凤庆县: nine events (reported; four tickets issued, each paged at once: no terminal is online)."""
    incident_report(actor=cast.dispatcher, category="flood", severity=2, lon=99.95, lat=24.6, title=title)


@pytest.fixture
def log(cast, key):
    """Two incidents, each followed by the worker's checkpoint: signed at seq 9 and seq 18."""
    start = timezone.now()
    report(cast, "河水漫堤")
    assert checkpoint_sign_due(now=start)
    report(cast, "道路积水")
    assert checkpoint_sign_due(now=start + timedelta(seconds=61))
    events = list(Event.objects.order_by("seq"))
    assert [c.seq for c in Checkpoint.objects.all()] == [9, 18] and len(events) == 18
    return events


def verify(*args):
    return command_output("verify_events", *args)


def broken():
    return command_complaint("verify_events")


def as_owner(sql, params=(), table="dispatch_event"):
    """Run SQL with the table's append-only trigger switched off, as the database owner could."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def rehash_everything():
    """Recompute every body hash and link with the project's own functions, and put the head right."""
    previous = GENESIS
    for event in Event.objects.order_by("seq"):
        body = body_digest(
            name=event.name, incident_id=event.incident_id, ticket_id=event.ticket_id, audience=event.audience,
            actor_id=event.actor_id, payload=event.payload, created_at=event.created_at,
        )
        chained = link_digest(prev_hash=previous, seq=event.seq, body_hash=body)
        as_owner("UPDATE dispatch_event SET body_hash = %s, prev_hash = %s, hash = %s WHERE id = %s",
                 [body, previous, chained, event.pk])
        previous = chained
    EventHead.objects.filter(pk=1).update(seq=Event.objects.order_by("-seq").first().seq, last_hash=previous)


def signed(seq):
    checkpoint = Checkpoint.objects.get(seq=seq)
    return f"signed at {signing.iso(checkpoint.signed_at)} (key {checkpoint.key_id})"


def file_lines(key):
    return (key.parent / "checkpoints.jsonl").read_text().splitlines(keepends=True)


# ---- the untouched log ------------------------------------------------------------------


def test_an_untouched_signed_log_passes(log):
    assert verify() == "OK: 18 events, chain intact; 2 signed checkpoints, the last at seq 18"


def test_each_checkpoint_is_in_the_table_and_the_file_signed_over_its_canonical_text(log, key):
    lines = file_lines(key)
    assert [signing.checkpoint_parse(line)["seq"] for line in lines] == [9, 18]
    head = EventHead.objects.get(pk=1)
    point = signing.checkpoint_parse(lines[-1])
    assert point["hash"] == head.last_hash == log[-1].hash
    public = signing.key_load(key).public_key()
    # v2 (the security audit's head beside the log's): none yet here, so audit seq 0 and the genesis hash
    assert (point["audit_seq"], point["audit_hash"]) == (0, GENESIS)
    text = f"geodispatch-checkpoint:v2:18:{head.last_hash}:0:{GENESIS}:{point['signed_at']}:{signing.key_id(public)}"
    public.verify(base64.b64decode(point["signature"]), text.encode())


# ---- the attacks ----------------------------------------------------------------------------


def test_a_an_edited_event_is_named_by_its_seq(log):
    as_owner("UPDATE dispatch_event SET payload = jsonb_set(payload, '{forged}', 'true') WHERE seq = 3")
    assert broken() == (
        f"BROKEN at seq 3 ({log[2].name}): its content does not match its hash (edited after it was written)"
    )


def test_b_a_deleted_tail_is_caught_by_the_last_checkpoint_even_with_the_head_put_right(log):
    as_owner("DELETE FROM dispatch_event WHERE seq > 7")
    EventHead.objects.filter(pk=1).update(seq=7, last_hash=log[6].hash)
    assert broken() == (
        f"BROKEN at seq 8 (deleted): the log ends at seq 7, but seq 18 was {signed(18)}: events 8..18 were deleted"
    )


def test_b_a_deleted_tail_is_caught_by_the_event_head_when_nothing_was_signed(cast, key):
    report(cast, "河水漫堤")
    as_owner("DELETE FROM dispatch_event WHERE seq > 2")
    assert broken() == (
        "BROKEN at seq 3 (deleted): the log ends at seq 2, but the event head is at seq 9: events 3..9 were deleted"
    )


def test_c_a_truncated_log_written_again_differs_from_the_first_checkpoint(log, cast):
    with connection.cursor() as cursor:  # TRUNCATE fires no row trigger: the owner needs no ALTER
        cursor.execute("TRUNCATE dispatch_event")
    EventHead.objects.filter(pk=1).update(seq=0, last_hash=GENESIS)
    report(cast, "演练")
    report(cast, "演练二")
    assert Event.objects.count() == 18
    assert broken() == (
        f"BROKEN at seq 9 ({Event.objects.get(seq=9).name}): its hash differs from the checkpoint {signed(9)}: "
        "the log between seq 1 and 9 was rewritten and re-hashed"
    )


def test_d_an_edit_rehashed_end_to_end_is_caught_by_the_next_checkpoint(log):
    as_owner("UPDATE dispatch_event SET payload = jsonb_set(payload, '{forged}', 'true') WHERE seq = 12")
    rehash_everything()
    assert broken() == (
        f"BROKEN at seq 18 ({log[17].name}): its hash differs from the checkpoint {signed(18)}: "
        "the log between seq 10 and 18 was rewritten and re-hashed"
    )


def test_d_is_caught_from_the_table_alone_when_there_is_no_file(log, key):
    (key.parent / "checkpoints.jsonl").unlink()
    as_owner("UPDATE dispatch_event SET payload = jsonb_set(payload, '{forged}', 'true') WHERE seq = 2")
    rehash_everything()
    assert broken().startswith(f"BROKEN at seq 9 ({log[8].name}): its hash differs from the checkpoint {signed(9)}")


def test_e_a_checkpoint_row_signing_a_rewritten_hash_is_forged(log, key):
    as_owner("UPDATE dispatch_checkpoint SET hash = %s WHERE seq = 18", ["f" * 64], table="dispatch_checkpoint")
    key_id = Checkpoint.objects.get(seq=18).key_id
    assert broken() == (
        f"BROKEN at the checkpoint at seq 18 (in the table): its signature does not verify with key {key_id} "
        "(forged or altered)"
    )


def test_e_an_edited_line_of_the_file_is_forged(log, key):
    lines = file_lines(key)
    lines[0] = lines[0].replace(log[8].hash, "0" * 64)
    (key.parent / "checkpoints.jsonl").write_text("".join(lines))
    assert broken().startswith(f"BROKEN at line 1 of {key.parent / 'checkpoints.jsonl'}: its signature does not verify")


def test_e_a_checkpoint_signed_with_another_key_is_forged(log, key):
    forger = Ed25519PrivateKey.generate()
    point = signing.checkpoint_sign(forger, seq=19, hash="a" * 64, signed_at=timezone.now())
    Checkpoint.objects.create(**{**point, "signed_at": timezone.now()})
    assert broken() == (
        f"BROKEN at the checkpoint at seq 19 (in the table): it is signed by key {point['key_id']}, "
        "which is not among the known public keys (forged)"
    )


def test_e_a_checkpoint_deleted_from_the_table_is_still_in_the_file(log):
    as_owner("DELETE FROM dispatch_checkpoint WHERE seq = 18", table="dispatch_checkpoint")
    assert broken() == (
        "BROKEN at the checkpoint at seq 18 (in the file): "
        "it is in the checkpoints file but not in the table (deleted from the database)"
    )


def test_e_a_line_removed_from_the_middle_of_the_file_is_named(log, key, cast):
    report(cast, "山体滑坡")
    checkpoint_sign_due(now=timezone.now() + timedelta(seconds=200))
    lines = file_lines(key)
    (key.parent / "checkpoints.jsonl").write_text(lines[0] + lines[2])
    assert broken() == (
        "BROKEN at the checkpoint at seq 18 (in the table): "
        "it is in the table but not in the checkpoints file (removed from the file)"
    )


@pytest.mark.parametrize("statement", [
    "UPDATE dispatch_checkpoint SET hash = 'x' WHERE seq = 9",
    "DELETE FROM dispatch_checkpoint WHERE seq = 9",
], ids=["update", "delete"])
def test_the_trigger_refuses_changes_to_checkpoints(log, statement):
    with pytest.raises(DatabaseError, match="checkpoints are append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert verify().startswith("OK: 18 events")


# ---- when the worker signs ----------------------------------------------------------------


def test_the_head_is_signed_at_the_interval_or_every_n_events_and_never_twice(cast, key, settings):
    start = timezone.now()
    assert checkpoint_sign_due(now=start) is None  # an empty log: nothing to sign
    report(cast, "河水漫堤")
    assert checkpoint_sign_due(now=start).seq == 9  # the first checkpoint comes at once
    report(cast, "道路积水")
    assert checkpoint_sign_due(now=start + timedelta(seconds=59)) is None
    assert checkpoint_sign_due(now=start + timedelta(seconds=60)).seq == 18
    assert checkpoint_sign_due(now=start + timedelta(seconds=600)) is None  # nothing new
    settings.CHECKPOINT_EVERY = 5
    report(cast, "山体滑坡")
    assert checkpoint_sign_due(now=start + timedelta(seconds=61)).seq == 27
    assert verify() == "OK: 27 events, chain intact; 3 signed checkpoints, the last at seq 27"


def test_without_a_key_nothing_is_signed_and_the_worker_goes_on(cast, settings, tmp_path, caplog):
    settings.EVENT_SIGNING_KEY = str(tmp_path / "missing")
    settings.EVENT_CHECKPOINTS_FILE = str(tmp_path / "checkpoints.jsonl")
    report(cast, "河水漫堤")
    assert checkpoint_sign_due(now=timezone.now()) is None
    assert f"no event signing key at {tmp_path / 'missing'}" in caplog.text
    assert not Checkpoint.objects.exists()


def test_a_checkpoint_the_file_missed_is_copied_with_the_next_one(log, key, cast):
    path = key.parent / "checkpoints.jsonl"
    path.write_text(file_lines(key)[0])  # the worker stopped between the commit and the copy
    assert verify().startswith("OK: 18 events")
    report(cast, "山体滑坡")
    checkpoint_sign_due(now=timezone.now() + timedelta(seconds=200))
    assert [signing.checkpoint_parse(line)["seq"] for line in file_lines(key)] == [9, 18, 27]


def test_the_worker_loop_signs_at_its_interval(cast, key, settings):
    settings.CHECKPOINT_INTERVAL_S = 0.3
    report(cast, "河水漫堤")
    stop = threading.Event()

    def later():
        try:
            stop.wait(0.1)
            report(cast, "道路积水")  # before the interval: signed when it has passed, not at once
        finally:
            connection.close()

    writer = threading.Thread(target=later)
    writer.start()
    threading.Timer(1.0, stop.set).start()
    worker_loop(stop=stop, interval=0.02)
    writer.join(10)
    first, second = Checkpoint.objects.all()  # and no third: nothing new after the second
    assert (first.seq, second.seq) == (9, 18)
    assert (second.signed_at - first.signed_at).total_seconds() >= 0.3
    assert [signing.checkpoint_parse(line)["seq"] for line in file_lines(key)] == [9, 18]


# ---- the auditor ----------------------------------------------------------------------------


@pytest.fixture
def exported(log, tmp_path):
    """Export the checkpoints and the public key as an auditor receives them."""
    call_command("export_checkpoints", "--out", str(tmp_path / "audit.jsonl"))
    call_command("export_checkpoints", "--public-key", "--out", str(tmp_path / "audit.pem"))
    return tmp_path / "audit.jsonl", tmp_path / "audit.pem"


def test_the_auditor_verifies_an_export_with_the_public_key_alone(exported, key):
    checkpoints, public = exported
    assert checkpoints.read_text() == "".join(file_lines(key))
    out = StringIO()
    call_command("verify_checkpoints", str(checkpoints), "--public-key", str(public), stdout=out)
    assert out.getvalue().strip() == (
        "OK: 2 checkpoints, the last at seq 18, every signature verified with 1 public key(s)"
    )


def test_the_auditor_catches_a_forged_line_without_the_project(exported, log):
    checkpoints, public = exported
    checkpoints.write_text(checkpoints.read_text().replace(log[17].hash, "e" * 64))
    with pytest.raises(CommandError, match=r"^BROKEN at line 2 of .*: its signature does not verify with key \w+"):
        call_command("verify_checkpoints", str(checkpoints), "--public-key", str(public))
    # The module alone, copied away from the project and run by an interpreter that has `cryptography`.
    alone = shutil.copy(ROOT / "dispatch" / "signing.py", checkpoints.parent / "signing.py")
    alone = subprocess.run(
        [sys.executable, alone, str(checkpoints), str(public)],
        cwd=checkpoints.parent, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )
    assert alone.returncode == 1
    assert "BROKEN at line 2" in alone.stderr and "does not verify" in alone.stderr


def test_verify_events_trusts_only_the_auditors_keys_when_given(exported, tmp_path):
    other = tmp_path / "other.pem"
    other.write_text(signing.public_pem(Ed25519PrivateKey.generate().public_key()))
    assert verify("--public-key", str(exported[1])).startswith("OK: 18 events")
    with pytest.raises(CommandError, match="which is not among the known public keys"):
        verify("--public-key", str(other))


def test_a_rotated_key_signs_on_and_the_old_public_key_still_verifies(log, key, cast, tmp_path):
    old_id = Checkpoint.objects.get(seq=18).key_id
    key.rename(tmp_path / "retired_key")  # rotation: the old key is taken away, a new one created
    signing.key_create(key)
    report(cast, "山体滑坡")
    new = checkpoint_sign_due(now=timezone.now() + timedelta(seconds=200))
    assert new.key_id != old_id
    assert verify() == "OK: 27 events, chain intact; 3 signed checkpoints, the last at seq 27"
