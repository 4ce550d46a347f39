"""Jurisdictions, sub-centers and spatial layers: the ground floor (geo knows no incidents)."""

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GistIndex


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


class BasemapFeature(models.Model):
    """One feature of the offline base map (离线底图), from an OpenStreetMap extract (geo.osm)."""

    class Layer(models.TextChoices):
        ROADS = "roads"
        WATERWAYS = "waterways"
        WATER = "water"
        LANDUSE = "landuse"
        BUILDINGS = "buildings"
        PLACES = "places"
        POIS = "pois"

    layer = models.CharField(max_length=16, choices=Layer.choices)
    kind = models.CharField(max_length=32, help_text="Class within the layer: primary, river, town, hospital…")
    name = models.CharField(max_length=300, blank=True)
    min_zoom = models.SmallIntegerField(help_text="The first zoom whose tiles hold it.")
    osm_id = models.CharField(max_length=32, blank=True)
    geom = models.GeometryField(srid=4326)

    class Meta:
        indexes = [models.Index(fields=["layer", "min_zoom"], name="basemap_layer_zoom")]


class BasemapImport(models.Model):
    """One import of a base map: where it came from and what it held."""

    source = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    counts = models.JSONField(default=dict)
    bounds = models.JSONField(null=True, help_text="[minlon, minlat, maxlon, maxlat]")
    imported_at = models.DateTimeField(auto_now_add=True)


class TileSet(models.Model):
    """A set of vector tiles and its version: a change to its data bumps it, and cached tiles of older versions go."""

    name = models.CharField(max_length=16, primary_key=True)  # basemap | ours
    version = models.IntegerField(default=1)


class CachedTile(models.Model):
    """One vector tile as generated (an empty tile is kept as empty bytes)."""

    tileset = models.CharField(max_length=16)
    version = models.IntegerField()
    z = models.SmallIntegerField()
    x = models.IntegerField()
    y = models.IntegerField()
    tile = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tileset", "version", "z", "x", "y"], name="cached_tile_unique")
        ]


class PlaceName(models.Model):
    """One name the place search (地名检索) finds: a place, street, POI, jurisdiction, sub-center or layer feature.

    `keys` holds what a query is matched against, all in one trigram-indexed text: the name
    lower-cased without accents, and for Chinese names their pinyin and its initials
    (临沧市 → "临沧市 lincangshi lcs"). The GiST index answers "the most similar first" (KNN).
    """

    class Kind(models.TextChoices):
        PLACE = "place"
        STREET = "street"
        POI = "poi"
        WATER = "water"
        JURISDICTION = "jurisdiction"
        SUBCENTER = "subcenter"
        FEATURE = "feature"

    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    detail = models.CharField(max_length=64, blank=True, help_text="town, primary, hospital, county…")
    source = models.CharField(max_length=80, help_text="basemap, jurisdictions, subcenters, layer:<name>")
    source_key = models.CharField(max_length=128, blank=True)
    location = models.PointField(srid=4326)
    bbox = models.JSONField(null=True, blank=True)
    keys = models.TextField()
    weight = models.SmallIntegerField(default=0, help_text="Among equal matches the higher comes first.")

    class Meta:
        indexes = [
            models.Index(fields=["source"], name="placename_source"),
            # A 512-byte signature (default 12): on 100k names a typo's nearest names come 5× faster
            # (bench/README.md, "Map").
            GistIndex(fields=["keys"], name="placename_keys_trgm", opclasses=["gist_trgm_ops(siglen=512)"]),
        ]


class PlacePrefix(models.Model):
    """A beginning (2–8 letters) of a word of a place name's keys, for the search as one types.

    One row per name and prefix, ordered in the index as the search ranks them (a whole word
    first, then weight, then the shorter name), so the best few hundred of thousands of names
    beginning with "sc" are read from the index alone.
    """

    placename_id = models.BigIntegerField()  # no foreign key: rows go with their name in one statement (geo.gazetteer)
    prefix = models.CharField(max_length=8)
    whole = models.BooleanField(help_text="The prefix is the whole word.")
    weight = models.SmallIntegerField()
    name_length = models.SmallIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["prefix", "-whole", "-weight", "name_length", "placename_id"], name="placeprefix_rank"),
            models.Index(fields=["placename_id"], name="placeprefix_name"),
        ]
