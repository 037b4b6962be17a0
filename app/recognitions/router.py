"""/api/v1/communes/{code}/recognitions: NTM recognitions of a commune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.api.deps import Page, ReadSessionDep, WriteSessionDep
from app.assessments.service import resolve_commune
from app.audit import service as audit
from app.auth.access import authorize
from app.auth.deps import PrincipalDep
from app.auth.rules import Action
from app.core.errors import problem_responses
from app.recognitions import service
from app.recognitions.models import RecognitionLevel, RecognitionPublic, RecognitionPut
from app.units import service as units_service
from app.units.service import year_end

router = APIRouter(prefix="/communes/{code}/recognitions", tags=["Recognitions"])

CommuneCode = Annotated[str, Path(pattern=r"^\d{5}$", description="GSO commune code", examples=["02812"])]


@router.put(
    "/{level}",
    summary="Record a recognition",
    responses={201: {"model": RecognitionPublic, "description": "Created"}, **problem_responses(401, 403, 404, 422)},
)
async def put_recognition(
    request: Request, session: WriteSessionDep, principal: PrincipalDep, code: CommuneCode, level: RecognitionLevel,
    data: RecognitionPut, response: Response,
) -> RecognitionPublic:
    """Record (or correct) the commune's recognition at a level; a separate fact from its yearly count."""
    commune = await resolve_commune(session, code, data.recognition_year)
    actor, chain = await authorize(
        session, principal, Action.recognition_write, commune, on=year_end(data.recognition_year)
    )
    recognition, created = await service.put(session, code=code, level=level, data=data)
    if created:
        response.status_code = status.HTTP_201_CREATED
    after = service.to_public(recognition)
    await audit.record(session, actor.actor, "create" if created else "replace", "recognition",
                       f"{code}/{level.value}", None, after, unit_chain=chain)
    return after


@router.get("", summary="A commune's recognitions", responses=problem_responses(404, 422))
async def list_recognitions(session: ReadSessionDep, code: CommuneCode) -> Page[RecognitionPublic]:
    """Every recognition recorded under this commune code, oldest first."""
    await units_service.resolve(session, code)
    items = await service.list_for(session, code)
    return Page(items=items, total=len(items), limit=len(items), offset=0)
