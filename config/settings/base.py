"""Settings shared by every environment; everything configurable is read from the environment here.

`local.py`, `test.py` and `production.py` only adjust or tighten what this module sets.
"""

from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("PASSTHROUGH_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-only-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "ninja",  # its static files: the API docs' Swagger UI is served from here, not from a CDN
    "axes",
    "config.apps.CoreConfig",
    "outbox",
    "leads",
    "partners",
    "nurture",
    "triage",
    "finance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # NUL characters anywhere in the request (422), API bodies over API_MAX_BODY_BYTES (413): before anything reads them
    "config.middleware.BadInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.HtmxLoginRedirectMiddleware",
    "config.middleware.DatabaseBusyMiddleware",  # a write that finds SQLite locked: 503 + Retry-After, not 500
    # Axes must come last: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.navigation",
                "config.context_processors.site",
            ],
        },
    },
]

# Database: SQLite under var/ by default, anything dj-database-url understands otherwise.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'passthrough.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Shared use by the web process, the Celery worker and beat. WAL: readers never wait for the writer, and
    # synchronous=NORMAL is safe with it (a power cut may lose the last commits, never corrupt the file).
    # Transactions begin IMMEDIATE, so a write waits for the lock at its start (never halfway, when SQLite
    # could only fail it) for at most `timeout` seconds; a request that still gets no lock answers 503
    # (config.middleware.DatabaseBusyMiddleware, the API's handler). A CSV import takes the lock only to store
    # rows it has already read and checked. Concurrent imports and heavy use want PostgreSQL.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)  # var/ on a fresh checkout
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 5,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (API rate limits live here): per process by default; share one across processes with
# CACHE_URL=redis://127.0.0.1:6379/1 in production.
# The default is a file cache so the web process and the Celery worker share it (import progress, rate limits).
CACHES = {
    "default": environ.Env.cache_url_config(env.str("CACHE_URL", default="") or f"filecache://{VAR_DIR / 'cache'}")
}
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="120/m")
# Request sizes: a form or JSON body Django reads into memory (uploaded files stream to disk instead; more is a 400),
# and the API's own limit (more is a 413 with a JSON error; never above the first).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_KB", default=2560) * 1024
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_KB", default=1024) * 1024
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=200)
# A running import's worker renews its lease every third of this; a job whose lease ran out (its worker died) is
# failed by the beat sweep (`leads.import_sweep`) or taken over by a redelivered task.
IMPORT_LEASE_SECONDS = env.int("IMPORT_LEASE_SECONDS", default=60)

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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Email from EMAIL_URL (django-environ's forms), turned into Django 6.1's MAILERS.
_EMAIL_OPTIONS = {  # django-environ's EMAIL_* names -> the options of Django 6.1's MAILERS
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_TIMEOUT": "timeout",
    "EMAIL_FILE_PATH": "file_path",
}


def mailers_from_url(url: str) -> dict:
    """MAILERS for an EMAIL_URL: smtp+tls://user:pass@host:587 (STARTTLS), smtp+ssl://…:465, smtp://,
    filemail:///path, consolemail://."""
    config = env.email_url_config(url)
    if config["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
        path = config.get("EMAIL_FILE_PATH", "").strip("/")
        config["EMAIL_FILE_PATH"] = f"/{path}" if path else str(VAR_DIR / "mail")
    options = {opt: config[key] for key, opt in _EMAIL_OPTIONS.items() if config.get(key) not in (None, "")}
    if config["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
        options.setdefault("timeout", 10)
    return {"default": {"BACKEND": config["EMAIL_BACKEND"], "OPTIONS": options}}


# By default mail goes to files under var/mail, so the demo never sends anything.
MAILERS = mailers_from_url(env.str("EMAIL_URL", default="filemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Passthrough <passthrough@localhost>")
# Absolute links in emails (partner response links) start with this; by default the development server's address
# (`make run` passes its PORT to the server and the worker).
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
# The company that runs Passthrough, as emails name it: templates get it as `company_name`
# (pages through a context processor; emails from config.context_processors.site()).
COMPANY_NAME = env.str("COMPANY_NAME", default="Passthrough demo company")

# Referrals: how long a partner's response link works, and whether a declined or expired introduction
# is offered to the next-best partner automatically (else the lead goes back to triage).
REFERRAL_LINK_MAX_AGE_DAYS = env.int("REFERRAL_LINK_MAX_AGE_DAYS", default=90)
REFERRAL_AUTO_REOFFER = env.bool("REFERRAL_AUTO_REOFFER", default=True)

# Finance: the accounts the journal export names (see docs/finance.md), as accounting's chart of accounts spells them.
FINANCE_ACCOUNTS = {
    "receivable": env.str("FINANCE_ACCOUNT_RECEIVABLE", default="1200 Referral fees receivable"),
    "revenue": env.str("FINANCE_ACCOUNT_REVENUE", default="4000 Referral fee income"),
    "bank": env.str("FINANCE_ACCOUNT_BANK", default="1010 Bank"),
    "write_off": env.str("FINANCE_ACCOUNT_WRITE_OFF", default="6950 Bad debts written off"),
}

# Celery: the kombu filesystem broker under var/ needs no service; Redis/RabbitMQ by URL.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")


def broker_publish_options(url: str) -> dict:
    """Transport options of a network broker so that publishing (a web request queueing a task after commit)
    tries it once and briefly: kombu's default retries the connection for broker_connection_timeout seconds
    (6 s measured with Redis down); workers and beat reconnect on their own terms (broker_connection_max_retries),
    unaffected. For Redis, a broker that accepts the connection and never answers must not hold a request
    either; consumers only read a socket that is readable, so the read timeout does not cut BRPOP's wait."""
    options = {"max_retries": 0}
    if url.startswith(("redis://", "rediss://")):
        options |= {"socket_connect_timeout": 1, "socket_timeout": 2}
    return options


CELERY_BROKER_TRANSPORT_OPTIONS = broker_publish_options(CELERY_BROKER_URL)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
        "polling_interval": 0.5,  # seconds between looks at the queue folder
    }
    for _folder in ("data_folder_in", "processed_folder", "control_folder"):
        Path(CELERY_BROKER_TRANSPORT_OPTIONS[_folder]).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2  # total seconds a connection may take (kombu's connect loop)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = False
# Beat's own schedule state; its scheduler makes the folder and stamps beat's heartbeat for /healthz.
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celery" / "beat-schedule")
)
CELERY_BEAT_SCHEDULER = "config.health:BeatScheduler"
# Periodic tasks live here (django-celery-beat does not yet support Django 6.1).
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "outbox.sweep", "schedule": 60.0},
    "nurture-run-due": {"task": "nurture.run_due", "schedule": 60.0},
    "referrals-expire": {"task": "partners.expire_referrals", "schedule": 300.0},
    "referrals-remind": {"task": "partners.remind_partners", "schedule": 900.0},
    "sla-warn": {"task": "triage.sla_warn", "schedule": 300.0},
    "imports-sweep": {"task": "leads.import_sweep", "schedule": 30.0},
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/htmx.html"

# Content-Security-Policy on every response (django.middleware.csp): scripts and styles only from this site, an
# inline <script>/<style> only with the request's nonce (`{{ csp_nonce }}`, `{% csp_nonce_attr %}`); no inline
# event handlers or style attributes, no eval, no plugins, no framing, forms post only here.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # runserver's request lines, as Django prints them
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"redact_signed_links": {"()": "config.logging.RedactSignedLinks"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_signed_links"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_signed_links"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django's own handler for runserver's request lines has no filter: replace it so tokens are redacted there too.
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
