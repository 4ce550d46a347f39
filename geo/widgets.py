"""Admin map widgets that load nothing from outside the project."""

from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.urls import reverse
from django.utils.http import urlencode


class OfflineMapWidget(OpenLayersWidget):
    """Edit geometry over the project's own jurisdictions, with OpenLayers served locally."""

    template_name = "geo/offline_map_widget.html"
    base_layer_simplify_m = 50

    class Media:
        # extend=False: the parent's Media points at a CDN.
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/dist/ol.js", "gis/js/OLMapWidget.js")

    def get_context(self, name, value, attrs):
        """Add the same-origin URL of the jurisdictions drawn as the base layer."""
        context = super().get_context(name, value, attrs)
        query = urlencode({"simplify": self.base_layer_simplify_m})
        context["base_layer_url"] = f"{reverse('api:jurisdictions')}?{query}"
        return context
