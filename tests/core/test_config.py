import pytest
from pydantic import ValidationError

from app.core.config import DEFAULT_DATABASE_URL, Settings, normalize_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/ntm", "postgresql+asyncpg://u:p@db:5432/ntm"),
        ("postgresql://u@db/ntm", "postgresql+asyncpg://u@db/ntm"),
        ("postgresql+asyncpg://u@db/ntm", "postgresql+asyncpg://u@db/ntm"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_urls_become_async_driver_urls(given, expected):
    assert normalize_database_url(given) == expected


def test_default_database_is_sqlite_file_in_working_directory(monkeypatch):
    monkeypatch.delenv("NTM_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./ntm.db"
    assert settings.is_sqlite


def test_settings_read_ntm_prefixed_environment(monkeypatch):
    monkeypatch.setenv("NTM_DATABASE_URL", "postgres://a@b/c")
    assert Settings(_env_file=None).database_url == "postgresql+asyncpg://a@b/c"


def test_unsupported_database_scheme_is_refused():
    with pytest.raises(ValidationError, match="unsupported database scheme"):
        Settings(database_url="mysql://x@y/z", _env_file=None)
