"""Admin for boundaries, sub-centers and layers, with maps that work on an isolated network."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import Count

from geo import services
from geo.models import Feature, Jurisdiction, Layer, SubCenter, SubCenterKind
from geo.tiles import tileset_bump
from geo.widgets import OfflineMapWidget


class OfflineMapAdmin(GISModelAdmin):
    """Edit geometry with the offline map widget."""

    gis_widget = OfflineMapWidget


class OurTilesAdmin(OfflineMapAdmin):
    """An edit here changes our vector tiles: start a new version of them (cached ones go)."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        tileset_bump(tileset="ours")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        tileset_bump(tileset="ours")

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        tileset_bump(tileset="ours")


@admin.register(Jurisdiction)
class JurisdictionAdmin(OurTilesAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    list_select_related = ("parent",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)
    # The importer computes the area on the spheroid; it is not typed in by hand.
    readonly_fields = ("area_m2", "updated_at")


@admin.register(SubCenterKind)
class SubCenterKindAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en")
    search_fields = ("code", "name", "name_en")


@admin.register(SubCenter)
class SubCenterAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "duty_phone", "priority")
    list_filter = ("kind", "active")
    list_select_related = ("kind",)
    search_fields = ("code", "name", "name_en", "duty_phone")
    filter_horizontal = ("jurisdictions",)
    readonly_fields = ("coverage_area_m2",)

    def save_related(self, request, form, formsets, change):
        """Save the covered jurisdictions, then refresh the coverage area they add up to."""
        super().save_related(request, form, formsets, change)
        services.subcenter_refresh_coverage_area(subcenter=form.instance)


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "feature_count")
    search_fields = ("name", "title")

    def get_queryset(self, request):
        """Return the layers with their feature counts."""
        return super().get_queryset(request).annotate(feature_count=Count("features"))

    @admin.display(description="features", ordering="feature_count")
    def feature_count(self, layer):
        """Return how many features the layer holds."""
        return layer.feature_count


@admin.register(Feature)
class FeatureAdmin(OurTilesAdmin):
    list_display = ("key", "name", "layer")
    list_filter = ("layer",)
    list_select_related = ("layer",)
    search_fields = ("key", "name")
