from django.db import migrations, models

ROMAN = ["I", "II", "III", "IV"]


def name_plans_in_english(apps, schema_editor):
    """Give every plan without an English name one made as its Chinese one is: category and levels."""
    ResponsePlan = apps.get_model("dispatch", "ResponsePlan")
    for plan in ResponsePlan.objects.filter(name_en="").select_related("category"):
        if plan.category.name_en:
            plan.name_en = f"{plan.category.name_en} {ROMAN[plan.severity_min - 1]}–{ROMAN[plan.severity_max - 1]}"
            plan.save(update_fields=["name_en"])


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0015_incident_place"),
    ]

    operations = [
        migrations.AddField(
            model_name="responseplan",
            name="name_en",
            field=models.CharField(blank=True, help_text="The English screens show it (blank: the name).", max_length=120),
        ),
        migrations.RunPython(name_plans_in_english, migrations.RunPython.noop),
    ]
