"""Service configuration, read from the environment (prefix ``NTM_``) and ``.env``."""

from __future__ import annotations

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

    @field_validator("database_url")
    @classmethod
    def _normalize_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
