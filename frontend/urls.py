"""The screens, login (with its second factor)/logout and the translation catalog for scripts."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import JavaScriptCatalog, set_language

from frontend import two_factor, views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="frontend/login.html", redirect_authenticated_user=True, next_page="frontend:home"
        ),
        name="login",
    ),
    path("login/2fa/", two_factor.verify, name="two_factor"),
    path("login/2fa/enrol/", two_factor.enrol, name="two_factor_enrol"),
    path("logout/", auth_views.LogoutView.as_view(next_page="frontend:login"), name="logout"),
    path("console/", views.console, name="console"),
    path("terminal/", views.terminal, name="terminal"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/bulletin/", views.bulletin, name="bulletin"),
    path("incidents/<int:incident_id>/timeline", views.timeline, name="timeline"),
    path("i18n/js/", JavaScriptCatalog.as_view(packages=["frontend"]), name="jsi18n"),
    path("i18n/setlang/", set_language, name="set_language"),
]
