"""The notice outbox: escalation notices as rows, each try recorded (docs/OPERATIONS.md, "Outbox").

Also records Event's ordering (seq, id), which the model already had: options only, no SQL.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0009_sequence_at_commit'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='event',
            options={'ordering': ['seq', 'id']},
        ),
        migrations.CreateModel(
            name='Notice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stage', models.CharField(max_length=16)),
                ('stage_started_at', models.DateTimeField()),
                ('level', models.PositiveSmallIntegerField()),
                ('recipient', models.CharField(help_text='A phone number, or "leaders" when none is configured.', max_length=64)),
                ('text', models.TextField()),
                ('idempotency_key', models.CharField(help_text='Sent with every attempt.', max_length=64, unique=True)),
                ('status', models.CharField(choices=[('pending', '待发送'), ('sending', '发送中'), ('sent', '已发送'), ('failed', '发送失败')], default='pending', max_length=8)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, help_text="Pending: when it is due. Sending: when the claim's lease runs out.", null=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('failed_at', models.DateTimeField(blank=True, null=True)),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='dispatch.incident')),
                ('ticket', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notices', to='dispatch.ticket')),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='NoticeAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveSmallIntegerField()),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(choices=[('sending', '发送中'), ('sent', '已发送'), ('error', '失败，将重试'), ('refused', '被网关拒绝'), ('lost', '工作进程中断')], default='sending', max_length=8)),
                ('detail', models.TextField(blank=True, help_text="The gateway's answer, or the error.")),
                ('notice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tries', to='dispatch.notice')),
            ],
            options={
                'ordering': ['notice', 'number'],
            },
        ),
        migrations.AddIndex(
            model_name='notice',
            index=models.Index(condition=models.Q(('next_attempt_at__isnull', False)), fields=['next_attempt_at'], name='notice_due'),
        ),
        migrations.AddIndex(
            model_name='notice',
            index=models.Index(fields=['status', '-created_at'], name='notice_status_newest'),
        ),
        migrations.AddConstraint(
            model_name='notice',
            constraint=models.UniqueConstraint(fields=('ticket', 'stage', 'stage_started_at', 'level', 'recipient'), name='notice_once_per_step'),
        ),
        migrations.AddConstraint(
            model_name='notice',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'sending', 'sent', 'failed'])), name='notice_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='notice',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('next_attempt_at__isnull', False), ('status__in', ['pending', 'sending'])), models.Q(('next_attempt_at__isnull', True), ('status__in', ['sent', 'failed'])), _connector='OR'), name='notice_due_while_unfinished'),
        ),
        migrations.AddConstraint(
            model_name='noticeattempt',
            constraint=models.UniqueConstraint(fields=('notice', 'number'), name='notice_attempt_number'),
        ),
        migrations.AddConstraint(
            model_name='noticeattempt',
            constraint=models.CheckConstraint(condition=models.Q(('outcome__in', ['sending', 'sent', 'error', 'refused', 'lost'])), name='notice_attempt_outcome_valid'),
        ),
    ]
