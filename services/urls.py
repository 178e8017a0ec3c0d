from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from services import http, views
from services.accounts import views as accounts
from services.api.schema_views import SchemaView
from services.health import views as health

admin.site.site_header = "evrelease administration"

# Django's error pages: JSON in the API's shape under /api/, the UI's styled pages elsewhere.
handler400 = "services.http.bad_request"
handler403 = "services.http.permission_denied"
handler404 = "services.http.page_not_found"
handler500 = "services.http.server_error"


def _signed_in(view):  # type: ignore[no-untyped-def]
    """The API docs pages need a signed-in person unless API_DOCS_PUBLIC (read per request)."""

    def docs(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:  # type: ignore[no-untyped-def]
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return docs


urlpatterns = [
    path("", include("releases.urls")),  # the web UI, "home" included
    path("accounts/login/", accounts.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        accounts.SetPasswordView.as_view(),
        name="password-set",
    ),
    path("audit/", views.audit_trail, name="audit-trail"),
    path("audit/chain/verify/", views.chain_verify, name="audit-chain-verify"),
    path("audit/chain/<str:run_id>/", views.chain_run, name="audit-chain-run"),
    path("healthz/live", health.live, name="health-live"),
    path("healthz/ready", health.ready, name="health-ready"),
    path("metrics", health.metrics, name="prometheus-metrics"),
    # One login page (throttled, services.accounts.views.LoginView), for the admin too.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin-login",
    ),
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path(
        "api/docs/",
        _signed_in(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        _signed_in(views.redoc(SpectacularRedocView.as_view(url_name="schema"))),
        name="api-redoc",
    ),
    path("api/v1/", include("services.api.urls")),
    # Anything else under /api/ names nothing: a JSON 404 in the one error shape.
    re_path(r"^api/", http.api_not_found),
]
