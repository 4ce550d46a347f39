from django.contrib import admin
from django.urls import include, path

from config.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/health", health, name="health"),
    path("api/v1/", include("geo.urls")),
    path("api/v1/", include("dispatch.api.urls")),
    path("", include("frontend.urls")),
]
