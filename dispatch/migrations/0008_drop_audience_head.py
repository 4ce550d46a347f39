"""Streams now take the doorbell once per process and see the whole log in seq order."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0007_audience_head"),
    ]

    operations = [
        migrations.DeleteModel(name="AudienceHead"),
    ]
