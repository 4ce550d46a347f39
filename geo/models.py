"""Jurisdictions, sub-centers and spatial layers: the ground floor (geo knows no incidents)."""

from django.contrib.gis.db import models


class Jurisdiction(models.Model):
    """A polygon of responsibility (辖区), in a hierarchy city → county → street."""

    class Level(models.TextChoices):
        PROVINCE = "province", "省"
        CITY = "city", "市"
        COUNTY = "county", "区/县"
        STREET = "street", "街道/乡镇"
        OTHER = "other", "其他"

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.OTHER)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    geom = models.MultiPolygonField(srid=4326)
    area_m2 = models.FloatField(default=0, help_text="Area on the spheroid, square meters.")
    properties = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class SubCenterKind(models.Model):
    """A kind of responding department: water, fire, health… (more can be added as data)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    name_en = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class SubCenter(models.Model):
    """A responding department's desk (分中心), covering one or more jurisdictions."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    kind = models.ForeignKey(SubCenterKind, to_field="code", on_delete=models.PROTECT)
    duty_phone = models.CharField(max_length=32, blank=True)
    jurisdictions = models.ManyToManyField(Jurisdiction, related_name="subcenters", blank=True)
    priority = models.IntegerField(
        default=0, help_text="Where coverages of one kind overlap, the higher priority wins."
    )
    coverage_area_m2 = models.FloatField(
        default=0, help_text="Sum of the covered jurisdictions' areas; kept by geo.services."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Layer(models.Model):
    """A named set of map features: hospitals, shelters, stations, reservoirs (图层)."""

    name = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200, blank=True)
    attribution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Feature(models.Model):
    """One feature of a layer: any geometry type with free-form properties."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="features")
    key = models.CharField(max_length=128, help_text="Stable id within the layer, for re-imports.")
    name = models.CharField(max_length=200, blank=True)
    geom = models.GeometryField(srid=4326)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["layer", "key"]
        constraints = [models.UniqueConstraint(fields=["layer", "key"], name="feature_unique_key")]

    def __str__(self):
        return self.name or self.key
