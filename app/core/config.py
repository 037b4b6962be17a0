"""Service configuration, read from the environment (prefix ``NTM_``) and ``.env``."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ntm.db"


def normalize_database_url(url: str) -> str:
    """Turn the URL forms people paste into the async driver URL SQLAlchemy needs.

    ``postgres://`` (Heroku style) and ``postgresql://`` become ``postgresql+asyncpg://``;
    ``sqlite://`` becomes ``sqlite+aiosqlite://``. Driver-qualified URLs pass unchanged.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("database URL must look like scheme://… (e.g. sqlite+aiosqlite:///./ntm.db)")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if scheme == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if scheme in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        return url
    raise ValueError(
        f"unsupported database scheme {scheme!r}: use sqlite+aiosqlite:// or postgresql:// (asyncpg)"
    )


_PLACEHOLDERS = {"", "secret", "changeme", "change-me", "change_me", "please-change", "xxx", "todo"}
MIN_SECRET_BYTES = 32
# the API's password policy (POST /users), which the first administrator follows too
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200

log = logging.getLogger("ntm.config")


class InsecureConfiguration(RuntimeError):
    """The service refuses to start with this configuration."""


def is_placeholder_secret(value: str) -> bool:
    """Missing, shorter than 32 bytes (UTF-8), or a placeholder word."""
    return value.strip().lower() in _PLACEHOLDERS or len(value.encode()) < MIN_SECRET_BYTES


def password_problem(password: str) -> str | None:
    """Why a password breaks the policy, or None."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"must be at most {PASSWORD_MAX_LENGTH} characters"
    return None


# Development without a configured secret: one random key for this process, never a key that
# stands in the source (anyone could sign tokens with that). `ntm serve` puts one in the
# environment of its workers so that they share it.
_PROCESS_KEY: str | None = None


def _process_key() -> str:
    global _PROCESS_KEY
    if _PROCESS_KEY is None:
        _PROCESS_KEY = secrets.token_urlsafe(48)
        log.warning("NTM_ENV=development without NTM_SECRET_KEY: signing tokens with a random key made for this "
                    "process (tokens end with it)")
    return _PROCESS_KEY


# The one place the API's path prefix is written; every router is mounted under it.
API_PREFIX = "/api/v1"


class Settings(BaseSettings):
    """All settings; each field is read from ``NTM_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NTM_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "production"
    database_url: str = DEFAULT_DATABASE_URL
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=15000, ge=0)
    log_level: str = "info"
    log_format: Literal["json", "text"] = "json"
    slow_query_ms: float = Field(default=250.0, ge=0, description="Log a warning for statements slower than this")

    # security (README "Security model")
    secret_key: str = Field(default="", description="HMAC key signing access tokens; required in production")
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    admin_username: str | None = None
    admin_password: str | None = None
    public_read: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # spreadsheet uploads (POST /api/v1/imports/…): their own, larger cap
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=20000, ge=1)
    import_max_unzipped_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    import_concurrency: int = Field(default=2, ge=1, le=64, description="Imports at once per worker (503 past it)")
    worker_concurrency: int = Field(
        default=2, ge=0, le=1000,
        description="Requests a worker runs at once; the others wait their turn, reads and writes each in arrival "
                    "order, alternating while both wait (0: no limit). "
                    "Sign-ins, uploads, file exports, static files and the health and metrics endpoints never wait",
    )
    # slow clients: the request line and headers must arrive within header_timeout_seconds of the
    # connection opening (or of the previous response), the body within body_timeout_seconds (408)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=120.0, gt=0)
    login_max_failures: int = Field(default=10, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    require_if_match: bool = False
    report_aggregates: bool = Field(
        default=True, description="Sum the stored per-parent report aggregates (false: every summary walks its communes)"
    )
    report_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, description="Report cache per worker")

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @property
    def signing_key(self) -> str:
        """The token key: the configured secret (at least 32 bytes, not a placeholder). Missing or
        short, the service refuses to start in every mode, except that development signs with a
        random key made for the process."""
        if self.secret_key and not is_placeholder_secret(self.secret_key):
            return self.secret_key
        if self.env == "development":
            return _process_key()
        raise InsecureConfiguration(
            f"NTM_SECRET_KEY is missing, shorter than {MIN_SECRET_BYTES} bytes or a placeholder "
            f"(NTM_ENV={self.env}): set a random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )

    def check_admin_password(self) -> None:
        """The first administrator's password (NTM_ADMIN_PASSWORD) follows the API's policy."""
        if self.admin_password is not None and (problem := password_problem(self.admin_password)):
            raise InsecureConfiguration(f"NTM_ADMIN_PASSWORD {problem} (the policy of POST /api/v1/users).")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
