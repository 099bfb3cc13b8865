"""Configuration defaults. Anything here can be overridden by a FLASK_-prefixed
environment variable (`FLASK_SQLALCHEMY_DATABASE_URI`, `FLASK_POINTS_NOTICE_DAYS` ...)."""

HOUSEHOLD_TAGS = ["建档立卡", "监测户", "边缘户", "低保", "五保", "残疾", "独居老人", "脱贫户"]


class Defaults:
    # The database: None means a SQLite file in the instance folder.
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Seconds a request waits for a lock (SQLite's write lock, a PostgreSQL row or
    # table lock) before it gives up and answers 503: a backup, a migration or
    # another program holding the database must not hang every counter.
    DATABASE_LOCK_TIMEOUT = 5
    # SQLite: code outside a request (CLI, cron) takes the write lock at BEGIN.
    SQLITE_LOCK_OUTSIDE_REQUESTS = True
    # None means a key generated once and kept in the instance folder.
    SECRET_KEY = None

    TIMEZONE = "Asia/Shanghai"
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh_CN", "en"]

    # Login throttling (Flask-Limiter). memory:// is per process; a deployment
    # with several workers sets redis://... so they share the counts.
    RATELIMIT_STORAGE_URI = "memory://"
    # Redis away or not answering (a second at most): each process counts in its own
    # memory until it answers again, instead of every login and PIN try failing.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    RATELIMIT_HEADERS_ENABLED = False
    LOGIN_FAILURES_PER_USERNAME = "10 per 15 minutes"
    LOGIN_FAILURES_PER_CLIENT = "50 per 15 minutes"

    # Behind a reverse proxy (caddy, nginx) on the same machine: how many
    # proxies to trust for X-Forwarded-For / -Proto, so the login throttling
    # counts per tablet rather than for all of them together. 0: no proxy
    # (the headers are ignored, as a client could forge them).
    TRUSTED_PROXIES = 0

    # Cookies: secure only when the deployment serves HTTPS (a village LAN
    # on plain HTTP would otherwise lose its session cookie).
    HTTPS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None

    API_TOKEN_DAYS = 30
    PASSWORD_MIN_LENGTH = 10
    PER_PAGE_DEFAULT = 50
    PER_PAGE_MAX = 500
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    HOUSEHOLD_TAGS = HOUSEHOLD_TAGS

    # Points.
    POINTS_NOTICE_DAYS = 3
    POINTS_APPROVAL_ABOVE = 50
    # Awards: how far back an occurred_on may lie, in days.
    POINTS_MAX_AGE_DAYS = 30
    # Most households in one award batch.
    POINTS_AWARD_MAX_HOUSEHOLDS = 1000
    # Year-end clearing (flask points expire --year Y) only when this is on.
    POINTS_YEAR_END_EXPIRY = False
    # Evidence photos: longest side after re-encoding, and the largest upload decoded.
    EVIDENCE_MAX_SIDE = 1600
    EVIDENCE_MAX_PIXELS = 50_000_000
    # Privacy: years after a household's exit date before an admin may anonymise
    # its personal data (/admin/privacy). Three years is the general limitation
    # period for civil claims (民法典 第188条) and covers the annual audits and
    # any dispute over its points; PIPL art. 19 asks for no longer than needed.
    RETENTION_YEARS_AFTER_EXIT = 3
    # Idempotency keys are answered for at least this long (the API promises 24 h or more).
    IDEMPOTENCY_KEEP_HOURS = 48

    # The village public notice (公示) masks household names (张*三) unless this is off.
    POINTS_NOTICE_MASK_NAMES = True
    # The household's own passbook (/passbook, no login): failed card number + PIN
    # attempts allowed per card number and per client, and how long it stays open.
    PASSBOOK_FAILURES_PER_CARD = "5 per 15 minutes"
    PASSBOOK_FAILURES_PER_CLIENT = "20 per 15 minutes"
    PASSBOOK_OPEN_MINUTES = 10
    # The public trace read from a donation receipt's QR code (/trace/<code>, no login):
    # unknown codes allowed per client before every trace from it waits (guessing).
    PUBLIC_TRACE_FAILURES_PER_CLIENT = "30 per 15 minutes"
    # The address the public reaches this server at (https://aixin.example.gov.cn), for the
    # QR code printed on donation receipts; unset: the address the receipt is printed from.
    PUBLIC_URL = None

    # The counter, serving a household without its card: wrong passbook PINs
    # allowed per household and per volunteer before they must wait.
    COUNTER_PIN_FAILURES_PER_HOUSEHOLD = "5 per 15 minutes"
    COUNTER_PIN_FAILURES_PER_USER = "20 per 15 minutes"

    # Checkout: an optional per-household monthly limit, in points.
    CHECKOUT_MONTHLY_LIMIT = None

    # Check every API answer against its documented schema (the tests turn it on;
    # it would cost the checkout more than the rest of the API layer).
    API_CHECK_RESPONSES = False

    # Backups (`flask backup`, `flask restore`): the folder (None: <instance>/backups),
    # how many daily and monthly copies to keep, a file holding the encryption
    # passphrase (or AIXIN_BACKUP_PASSPHRASE in the environment; neither: not
    # encrypted), and after how many hours without a good backup the admin pages warn.
    BACKUP_DIR = None
    BACKUP_KEEP_DAILY = 7
    BACKUP_KEEP_MONTHLY = 12
    BACKUP_PASSPHRASE_FILE = None
    BACKUP_WARN_AFTER_HOURS = 48
