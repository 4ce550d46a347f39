from django.db import migrations

KINDS = [
    ("water", "水务局", "Water Affairs Bureau"),
    ("civil_air_defense", "人防办", "Civil Air Defense Office"),
    ("earthquake", "地震办", "Earthquake Office"),
    ("civil_affairs", "民政局", "Civil Affairs Bureau"),
    ("health", "卫生局", "Health Bureau"),
    ("fire", "消防中队", "Fire Brigade"),
]


def add_kinds(apps, schema_editor):
    SubCenterKind = apps.get_model("geo", "SubCenterKind")
    for code, name, name_en in KINDS:
        SubCenterKind.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en})


class Migration(migrations.Migration):
    dependencies = [("geo", "0001_initial")]
    operations = [migrations.RunPython(add_kinds, migrations.RunPython.noop)]
