"""Signed checkpoints of the event log: one row per signed head, append-only (docs/OPERATIONS.md, "Signed checkpoints")."""

from pathlib import Path

from django.db import migrations, models

GUARD = (Path(__file__).resolve().parent.parent / "sql" / "checkpoint_guard.sql").read_text()

UNGUARD = """
DROP TRIGGER dispatch_checkpoint_append_only ON dispatch_checkpoint;
DROP FUNCTION dispatch_checkpoint_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0010_notice_outbox"),
    ]

    operations = [
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(help_text="The last event the signature covers.", unique=True)),
                ("hash", models.CharField(help_text="The chain's hash at that event.", max_length=64)),
                ("signed_at", models.DateTimeField()),
                ("key_id", models.CharField(help_text="SHA-256 of the raw public key, first 16 hex digits.", max_length=16)),
                ("signature", models.CharField(help_text="Ed25519, base64.", max_length=88)),
            ],
            options={
                "ordering": ["seq"],
            },
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
