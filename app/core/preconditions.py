"""HTTP preconditions on versioned resources (RFC 9110 §13): ``If-Match`` and ``If-None-Match``
against the resource's ``version``, sent as a strong ETag ``"<version>"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from app.core.errors import AppError


class PreconditionFailed(AppError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PreconditionRequired(AppError):
    status, title, slug = 428, "Precondition Required", "precondition-required"


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


@dataclass(frozen=True)
class IfMatch:
    """The client's ``If-Match`` header (None when absent) and whether the service demands one."""

    header: str | None
    required: bool = False

    def check(self, current_version: int | None) -> None:
        """Raise unless a change of the resource at ``current_version`` (None: absent) may go ahead."""
        if self.header is None:
            if self.required and current_version is not None:
                raise PreconditionRequired(
                    f"Send If-Match: {etag(current_version)} (the ETag you read) to change this resource.",
                    current_version=current_version,
                )
            return
        tags = _tags(self.header)
        if current_version is None:
            raise PreconditionFailed("If-Match was sent, but the resource does not exist yet.", current_version=None)
        if "*" in tags or etag(current_version) in tags:
            return
        raise PreconditionFailed(
            f"The resource changed since you read it: it is at version {current_version} "
            f"(ETag {etag(current_version)}); reload, reapply your change, and send the new ETag.",
            current_version=current_version,
        )


NOT_MODIFIED_RESPONSE: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified: If-None-Match holds the current ETag"}}
ETAG_HEADER = {"ETag": {"description": 'The version, as a strong ETag (`"3"`)', "schema": {"type": "string"}}}


def versioned(if_none_match: str | None, version: int, response: Response) -> Response | None:
    """Set the ETag; when the client already holds this version, the 304 to answer instead."""
    if not_modified(if_none_match, version):
        return Response(status_code=304, headers={"ETag": etag(version)})
    response.headers["ETag"] = etag(version)
    return None


def not_modified(if_none_match: str | None, version: int) -> bool:
    """``If-None-Match`` names the current version (or ``*``): answer 304."""
    if if_none_match is None:
        return False
    tags = _tags(if_none_match)
    return "*" in tags or etag(version) in tags
