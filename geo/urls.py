"""Map data endpoints, mounted under /api/v1/."""

from django.urls import path

from geo import views

app_name = "geo"

urlpatterns = [
    path("jurisdictions", views.jurisdictions, name="jurisdictions"),
    path("layers", views.layers, name="layers"),
    # str, not slug: an unknown name of any shape gets the JSON 404, not Django's HTML page.
    path("layers/<str:name>/features", views.layer_features, name="layer-features"),
]
