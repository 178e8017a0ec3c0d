"""The web UI's URL space: the dashboard ("home") and the release pages.

The root URLconf (``services.urls``) includes this module by name, as it names
every app, so the platform package never imports the release side.
"""

from django.urls import include, path

from releases.ui import views

urlpatterns = [
    path("", views.dashboard, name="home"),
    path("", include("releases.ui.urls")),
]
