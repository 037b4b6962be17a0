"""/api/v1/communes/{code}/recognitions and /api/v1/units/{code}/recognitions: recognitions of
communes (chuẩn, nâng cao, kiểu mẫu, hiện đại), districts and provinces, and their revocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from app.api.deps import Page, ReadSessionDep, ValidityDep, WriteSessionDep
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.recognitions import service
from app.recognitions.models import (
    CommuneRecognitionLevel,
    RecognitionLevel,
    RecognitionPublic,
    RecognitionPut,
    RevocationIn,
)
from app.units.models import CODE_REGEX

router = APIRouter(tags=["Recognitions"])

CommuneCode = Annotated[str, Path(pattern=r"^[0-9]{5}$", description="GSO commune code", examples=["02812"])]
UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="A district or province (or a commune)",
                               examples=["084"])]
WRITE_ERRORS = problem_responses(401, 403, 404, 422)
CREATED: dict[int | str, dict[str, Any]] = {201: {"model": RecognitionPublic, "description": "Created"}}


@router.put("/communes/{code}/recognitions/{level}", summary="Record a commune's recognition",
            operation_id="putCommuneRecognition", responses={**CREATED, **WRITE_ERRORS})
async def put_commune_recognition(
    session: WriteSessionDep, principal: PrincipalDep, code: CommuneCode,
    level: CommuneRecognitionLevel, data: RecognitionPut, response: Response,
) -> RecognitionPublic:
    """Record (or replace) the commune's recognition at a level; 201 when new. A separate fact from its count."""
    written, created = await service.put(session, principal, code=code, level=RecognitionLevel(level.value),
                                         data=data, commune_only=True)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return written


@router.get("/communes/{code}/recognitions", summary="A commune's recognitions",
            operation_id="listCommuneRecognitions", responses=problem_responses(404, 422))
async def list_commune_recognitions(session: ReadSessionDep, code: CommuneCode, on: ValidityDep) -> Page[RecognitionPublic]:
    """The recognitions of the commune with this code valid `on` (or in `year`; default today, else the latest
    with the code), revoked ones included, oldest first. A commune created by a merger starts with none."""
    items = await service.list_for(session, code, on=on)
    return Page(items=items, total=len(items), limit=len(items), offset=0)


@router.post("/communes/{code}/recognitions/{level}/revoke", summary="Revoke a commune's recognition",
             operation_id="revokeCommuneRecognition", responses=WRITE_ERRORS)
async def revoke_commune_recognition(
    session: WriteSessionDep, principal: PrincipalDep, code: CommuneCode,
    level: CommuneRecognitionLevel, data: RevocationIn,
) -> RecognitionPublic:
    """End the recognition on `revoked_on`: it is not valid in that year or after. Answers the recognition."""
    return await service.revoke(session, principal, code=code, level=RecognitionLevel(level.value), data=data,
                                commune_only=True)


@router.put("/units/{code}/recognitions/{level}", summary="Record a unit's recognition",
            operation_id="putUnitRecognition", responses={**CREATED, **WRITE_ERRORS})
async def put_unit_recognition(
    session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, level: RecognitionLevel,
    data: RecognitionPut, response: Response,
) -> RecognitionPublic:
    """A district (`chuan`: huyện đạt chuẩn NTM, `nang_cao`, `hoan_thanh`: hoàn thành nhiệm vụ xây dựng NTM) or a
    province (`hoan_thanh`); a commune code takes the commune levels. 201 when new."""
    written, created = await service.put(session, principal, code=code, level=level, data=data,
                                         commune_only=False)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return written


@router.get("/units/{code}/recognitions", summary="A unit's recognitions", operation_id="listUnitRecognitions",
            responses=problem_responses(404, 422))
async def list_unit_recognitions(session: ReadSessionDep, code: UnitCode, on: ValidityDep) -> Page[RecognitionPublic]:
    """The recognitions of the unit with this code valid `on` (or in `year`; default today, else the latest with
    the code), revoked ones included, oldest first."""
    items = await service.list_for(session, code, on=on)
    return Page(items=items, total=len(items), limit=len(items), offset=0)


@router.post("/units/{code}/recognitions/{level}/revoke", summary="Revoke a unit's recognition",
             operation_id="revokeUnitRecognition", responses=WRITE_ERRORS)
async def revoke_unit_recognition(
    session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, level: RecognitionLevel,
    data: RevocationIn,
) -> RecognitionPublic:
    """End the recognition on `revoked_on`: it is not valid in that year or after. Answers the recognition."""
    return await service.revoke(session, principal, code=code, level=level, data=data, commune_only=False)
