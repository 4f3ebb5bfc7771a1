"""Settings. Everything comes from the environment (or `.env`) with a safe default,
so a fresh clone runs with no configuration: SQLite, eager Celery, DEBUG off."""

from pathlib import Path

import environ
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Without SECRET_KEY in the environment a per-checkout key is generated once into a private
# file (0600) kept out of the repository; with DEBUG off start-up warns (config/secret_key.py).
if env.str("SECRET_KEY", default=""):
    SECRET_KEY = env.str("SECRET_KEY")
    SECRET_KEY_FILE = None
else:
    from config.secret_key import secret_key_from_file

    SECRET_KEY_FILE = BASE_DIR / ".secret_key"
    SECRET_KEY = secret_key_from_file(SECRET_KEY_FILE)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.inlines",
    "unfold.contrib.import_export",
    "config.apps.PortalAdminConfig",  # admin modules discovered by the URLconf (config.apps)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "django_celery_beat",
    "axes",
    "csp",
    "onboarding",
    "loyalty",
    "crm",
    "cards",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.RussianByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "onboarding.middleware.MerchantTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.PortalCSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

# POS webhooks (`/pos/…`, config.wsgi): machine-to-machine JSON with their own
# authentication (tokens, signatures) — no session, CSRF, login lockout, messages or page CSP.
POS_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RussianByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "onboarding.middleware.MerchantTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
# Web and worker processes keep their connection (and the engine's prepared statements)
# between requests; a broken one is replaced at the next request's start.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=300))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# The health check's `SELECT 1` only for a connection idle this long (config/postgresql).
DATABASE_HEALTH_CHECK_IDLE = env.float("DATABASE_HEALTH_CHECK_IDLE", default=5.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "config.postgresql"
# A streaming replica for reports and dashboards (reports.replica); writes stay on the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES["replica"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # tests: the same test database
DATABASE_ROUTERS = ["reports.replica.ReplicaRouter"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + a busy timeout let the dev server, a worker and imports share the file; reads of
    # a large file (reports, the forecast's history) go through a memory map of up to 256 MB
    # instead of a copy of each page.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=268435456;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
    )
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True
# Failures count per (client address, username): one client's guesses lock that client out of
# that account only, never other clients (behind a proxy, the real client: config/client_ip.py).
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
# Our catalogue first; _vendor holds Russian for the admin theme, which ships none.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale" / "_vendor"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders until collected
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Uploads: anything above the memory limit streams to a temp file; the hard cap is
# enforced per upload by the import code (IMPORT_MAX_UPLOAD_BYTES).
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
IMPORT_ASYNC_THRESHOLD_BYTES = env.int("IMPORT_ASYNC_THRESHOLD_BYTES", default=2 * 1024 * 1024)
IMPORT_STALE_AFTER_SECONDS = env.int("IMPORT_STALE_AFTER_SECONDS", default=900)
IMPORT_EAGER_IN_THREAD = env.bool("IMPORT_EAGER_IN_THREAD", default=True)
# Hostile files (docs/security.md): a workbook is checked before the reader sees it.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_048_576)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=200)
IMPORT_MAX_DECOMPRESSED_BYTES = env.int(
    "IMPORT_MAX_DECOMPRESSED_BYTES", default=min(20 * IMPORT_MAX_UPLOAD_BYTES, 1024**3)
)
IMPORT_WORKBOOK_MEMORY_BYTES = env.int("IMPORT_WORKBOOK_MEMORY_BYTES", default=160 * 1024**2)
IMPORT_MAX_LINE_CHARS = env.int("IMPORT_MAX_LINE_CHARS", default=1024**2)
# Files from this size on (~10 000 CSV rows) are read and cleaned in a second process while the
# first only writes (0: never; docs/performance.md, "Client import: the second process" and "the
# second process on PostgreSQL too"). With PostgreSQL on the same 2 cores it still overlaps the
# cleaning with the server's COPY: 100 000 rows 2.85–3.01 s against 3.17–3.36 s in one process.
IMPORT_PARALLEL_MIN_BYTES = env.int("IMPORT_PARALLEL_MIN_BYTES", default=1024**2)
# SQLite: an import of at least this many rows (estimated from the file's size) into a client
# table no larger than the file builds the table's non-unique indexes once, at the end
# (crm.importing.upkeep); 0 = always update them row by row.
IMPORT_DEFER_INDEXES_MIN_ROWS = env.int("IMPORT_DEFER_INDEXES_MIN_ROWS", default=20_000)
# A workbook that unpacks to more than this is read by the worker, whatever its upload size.
IMPORT_ASYNC_THRESHOLD_UNPACKED_BYTES = env.int(
    "IMPORT_ASYNC_THRESHOLD_UNPACKED_BYTES", default=20 * 1024**2
)
# Uploaded client bases: private (0600 files, 0700 folders), never under MEDIA_ROOT, deleted when
# the run ends; a dry run's file is kept for its confirmation up to the retention.
IMPORT_UPLOAD_ROOT = env.path("IMPORT_UPLOAD_ROOT", default=BASE_DIR / "var" / "imports")
IMPORT_UPLOAD_RETENTION_HOURS = env.int("IMPORT_UPLOAD_RETENTION_HOURS", default=24)
# An import run can be undone for this many days after it finished (docs/import.md).
IMPORT_UNDO_DAYS = env.int("IMPORT_UNDO_DAYS", default=14)

# Staff quizzes: attempts per module within a rolling period (docs/security.md).
QUIZ_MAX_ATTEMPTS = env.int("QUIZ_MAX_ATTEMPTS", default=3)
QUIZ_ATTEMPT_PERIOD_HOURS = env.int("QUIZ_ATTEMPT_PERIOD_HOURS", default=24)

# Content-Security-Policy (config/csp.py): scripts only from our own static files, no inline
# script; the admin adds 'unsafe-eval' for its Alpine.js. CSP_REPORT_URI collects violations.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **(
            {"report-uri": [env.str("CSP_REPORT_URI")]}
            if env.str("CSP_REPORT_URI", default="")
            else {}
        ),
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Production behind TLS: secure cookies, HSTS and the redirect follow HTTPS=true.
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Behind PROXY_COUNT trusted reverse proxies the client address comes from X-Forwarded-For
# (config/client_ip.py); without a proxy that header is the client's own text and is ignored.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
PROXY_COUNT = env.int("PROXY_COUNT", default=1)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery: eager in-process unless a broker is configured (Redis in production and CI).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"

# Evotor application credentials (from dev.evotor.ru): webhook-requests (/user/create,
# /user/verify) carry this token; without it those calls are refused with 401.
EVOTOR_APP_TOKEN = env.str("EVOTOR_APP_TOKEN", default="")
EVOTOR_APP_ID = env.str("EVOTOR_APP_ID", default="")
# A web process keeps the merchant an Evotor user token names for this many seconds (0: look it
# up on every request). A token re-issued or withdrawn stops working at once in the process
# that changed it and within this time in the others (docs/security.md, loyalty.pos.evotor).
EVOTOR_TOKEN_CACHE_SECONDS = env.float("EVOTOR_TOKEN_CACHE_SECONDS", default=2.0)
# Plausibility bounds of purchases from outside (POS webhooks, the cashier page, the purchase
# import): 400 with the reason beyond them (docs/security.md, "Limits and settings").
POS_MAX_AMOUNT = env.int("POS_MAX_AMOUNT", default=100_000_000)
POS_EARLIEST_DATE = env.str("POS_EARLIEST_DATE", default="2000-01-01")
POS_MAX_FUTURE_HOURS = env.int("POS_MAX_FUTURE_HOURS", default=48)
# Documents in one Evotor body; more are refused (413) before any is read.
POS_MAX_DOCUMENTS_PER_REQUEST = env.int("POS_MAX_DOCUMENTS_PER_REQUEST", default=100)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="loyalty@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

UNFOLD = {
    "SITE_TITLE": _("Loyalty onboarding"),
    "SITE_HEADER": _("Loyalty onboarding"),
    "SITE_SYMBOL": "loyalty",
    "SHOW_LANGUAGES": True,
    # Behaviours of our admin pages (no inline script under the Content-Security-Policy).
    "SCRIPTS": [lambda request: static("site/portal.js")],
    "SHOW_HISTORY": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
    },
}

# Delivery channels (docs/campaigns.md, "Channels").
# The site's public address: unsubscribe links, the Telegram webhook and card links use it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# One-time codes go to the console when no SMS gateway or Telegram link can carry them:
# on by default only with DEBUG, so a production site never "sends" a code nobody receives.
LOYALTY_OTP_CONSOLE_FALLBACK = env.bool("LOYALTY_OTP_CONSOLE_FALLBACK", default=DEBUG)
# Push services a browser subscription may point at (host suffixes): our server POSTs to the
# endpoint, so an arbitrary URL would let anyone make it call internal addresses.
WEBPUSH_ALLOWED_HOST_SUFFIXES = env.list(
    "WEBPUSH_ALLOWED_HOST_SUFFIXES",
    default=[
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
)
