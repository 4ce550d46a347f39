"""The security audit (issue #12 part 7): an append-only, hash-chained table, and checkpoints (v2) that sign its head.

docs/OPERATIONS.md, "Security audit". The sequencer and the guard are in dispatch/sql/audit_sequencer.sql.
"""

from pathlib import Path

from django.db import migrations, models

SEQUENCER = (Path(__file__).resolve().parent.parent / "sql" / "audit_sequencer.sql").read_text()

UNSEQUENCER = """
DROP TRIGGER dispatch_securityrecord_append_only ON dispatch_securityrecord;
DROP FUNCTION dispatch_securityrecord_append_only();
DROP TRIGGER dispatch_securityrecord_sequence ON dispatch_securityrecord;
DROP FUNCTION dispatch_securityrecord_sequence();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0011_checkpoint'),
    ]

    operations = [
        # A v2 checkpoint may sign new security records alone, at the same event seq as the one before.
        migrations.AlterField(
            model_name='checkpoint',
            name='seq',
            field=models.BigIntegerField(help_text='The last event the signature covers.'),
        ),
        migrations.AlterModelOptions(name='checkpoint', options={'ordering': ['seq', 'audit_seq']}),
        migrations.AddField(
            model_name='checkpoint',
            name='audit_hash',
            field=models.CharField(blank=True, default='', help_text="v2: the audit chain's hash there.", max_length=64),
        ),
        migrations.AddField(
            model_name='checkpoint',
            name='audit_seq',
            field=models.BigIntegerField(help_text='v2: the last security record the signature covers.', null=True),
        ),
        migrations.AddConstraint(
            model_name='checkpoint',
            constraint=models.UniqueConstraint(fields=('seq', 'audit_seq'), name='checkpoint_once_per_heads'),
        ),
        migrations.CreateModel(
            name='SecurityRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(help_text='Given at commit, in commit order.', null=True, unique=True)),
                ('at', models.DateTimeField()),
                ('kind', models.CharField(help_text='What happened: login, login.failed, token.issued, …', max_length=32)),
                ('outcome', models.CharField(help_text='success, failure, locked, refused, denied', max_length=16)),
                ('username', models.CharField(blank=True, help_text='Who: the account, as typed for a failed login.', max_length=150)),
                ('user_id', models.BigIntegerField(blank=True, help_text="Who: the account's id, when known.", null=True)),
                ('address', models.CharField(blank=True, help_text="From where: the client's address; empty on the server.", max_length=64)),
                ('detail', models.JSONField(blank=True, default=dict)),
                ('body_hash', models.CharField(default='', help_text='SHA-256 of the content.', max_length=64)),
                ('prev_hash', models.CharField(default='', max_length=64)),
                ('hash', models.CharField(default='', max_length=64)),
            ],
            options={
                'ordering': ['seq', 'id'],
                'indexes': [models.Index(fields=['at'], name='securityrecord_at')],
            },
        ),
        migrations.RunSQL(SEQUENCER, UNSEQUENCER),
    ]
