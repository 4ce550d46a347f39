from django.db import migrations

from dispatch.seed import CATEGORIES, PLANS


def seed(apps, schema_editor):
    Category = apps.get_model("dispatch", "Category")
    ResponsePlan = apps.get_model("dispatch", "ResponsePlan")
    SubCenterKind = apps.get_model("geo", "SubCenterKind")
    for code, name, name_en, national_class in CATEGORIES:
        Category.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "national_class": national_class}
        )
    for code, (low, high), kinds, checklist in PLANS:
        category = Category.objects.get(code=code)
        plan, _ = ResponsePlan.objects.update_or_create(
            category=category, severity_min=low, severity_max=high,
            defaults={"name": f"{category.name} {_roman(low)}–{_roman(high)}级", "checklist": checklist},
        )
        plan.kinds.set(SubCenterKind.objects.filter(code__in=kinds))


def _roman(level):
    return ["I", "II", "III", "IV"][level - 1]


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0003_event_log_guard"), ("geo", "0002_subcenter_kinds")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
