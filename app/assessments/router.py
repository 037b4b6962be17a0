"""/api/v1/communes/{code}/assessments: yearly criteria assessments of a commune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import Field

from app.api.deps import IfMatchDep, IfNoneMatch, Page, PageDep, SessionDep
from app.assessments import service
from app.assessments.models import AssessmentPublic, AssessmentPut, CriterionPatch
from app.audit import service as audit
from app.auth.deps import PrincipalDep, authorize
from app.auth.rules import Action
from app.core.errors import problem_responses
from app.core.preconditions import ETAG_HEADER, NOT_MODIFIED_RESPONSE, etag, versioned
from app.core.types import DIGITS_ONLY, YearNumber
from app.units import service as units_service
from app.units.service import year_end

router = APIRouter(prefix="/communes/{code}/assessments", tags=["Assessments"])

CommuneCode = Annotated[str, Path(pattern=r"^\d{5}$", description="GSO commune code", examples=["02812"])]
Year = Annotated[YearNumber, Path(description="Assessment year", examples=[2021])]
Number = Annotated[
    int, Field(ge=1, le=99), DIGITS_ONLY, Path(description="Criterion number in the assessment's set", examples=[4])
]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
STEP_ERRORS = problem_responses(401, 403, 404, 409, 422)  # workflow steps take no If-Match


@router.put(
    "/{year}",
    summary="Create or replace a year's assessment",
    responses={201: {"model": AssessmentPublic, "description": "Created"}, **WRITE_ERRORS},
)
async def put_assessment(
    request: Request, session: SessionDep, principal: PrincipalDep, code: CommuneCode, year: Year,
    data: AssessmentPut, response: Response, precondition: IfMatchDep,
) -> AssessmentPublic:
    """Every criterion of the set in force (or the named set) exactly once; 201 when new, 200 when replaced.
    An approved assessment is locked (409) until reopened."""
    commune = await service.resolve_commune(session, code, year)
    actor, chain = await authorize(session, principal, Action.assessment_write, commune, on=year_end(year))
    await units_service.writes_under(session, commune.code, year)
    current = await service.lock_current(session, commune, year)
    before = current.public(commune.name)
    assessment, created = await service.put(
        session, commune=commune, year=year, data=data, if_match=precondition, current=current
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    _etag(response, assessment.version)
    after = await service.publish(session, assessment, commune.name)
    if before is None or before.version != after.version:
        await audit.record(session, request, actor, "create" if created else "replace", "assessment",
                           f"{code}/{year}", before, after, unit_chain=chain)
    return after


@router.get(
    "/{year}",
    summary="A year's assessment",
    response_model=AssessmentPublic,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED_RESPONSE, **problem_responses(404, 422)},
)
async def get_assessment(
    session: SessionDep, code: CommuneCode, year: Year, response: Response, if_none_match: IfNoneMatch = None
) -> AssessmentPublic | Response:
    """The commune's assessment for the year (the commune that had this code that year)."""
    commune = await service.resolve_commune(session, code, year)
    assessment = await service.get_or_404(session, commune, year)
    if (unchanged := versioned(if_none_match, assessment.version, response)) is not None:
        return unchanged
    return await service.publish(session, assessment, commune.name)


@router.get("", summary="Assessment history", responses=problem_responses(404, 422))
async def list_assessments(session: SessionDep, code: CommuneCode, page: PageDep) -> Page[AssessmentPublic]:
    """Every assessment recorded under this commune code, newest first."""
    await units_service.resolve(session, code)
    items, total = await service.history(session, code=code, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.patch("/{year}/criteria/{number}", summary="Change one criterion", responses=WRITE_ERRORS)
async def patch_criterion(
    request: Request, session: SessionDep, principal: PrincipalDep, code: CommuneCode, year: Year, number: Number,
    data: CriterionPatch, response: Response, precondition: IfMatchDep,
) -> AssessmentPublic:
    """Set one criterion met or not (with an optional note and indicator values); counts follow."""
    commune = await service.resolve_commune(session, code, year)
    actor, chain = await authorize(session, principal, Action.assessment_write, commune, on=year_end(year))
    await units_service.writes_under(session, commune.code, year)
    before = (await service.lock_current(session, commune, year)).public(commune.name)  # locked: exact
    assessment = await service.patch_criterion(
        session, commune=commune, year=year, number=number, data=data, if_match=precondition
    )
    _etag(response, assessment.version)
    after = await service.publish(session, assessment, commune.name)
    if before is not None and before.version != after.version:
        await audit.record(session, request, actor, "update_criterion", "assessment", f"{code}/{year}#{number}",
                           before, after, unit_chain=chain)
    return after


async def _step(
    request: Request, session: SessionDep, principal: PrincipalDep, code: str, year: int, step: str, action: Action,
    response: Response,
) -> AssessmentPublic:
    commune = await service.resolve_commune(session, code, year)
    actor, chain = await authorize(session, principal, action, commune, on=year_end(year))
    await units_service.writes_under(session, commune.code, year)
    before = (await service.lock_current(session, commune, year)).public(commune.name)  # locked: exact
    assessment = await service.transition(session, commune=commune, year=year, step=step, actor=actor.actor)
    _etag(response, assessment.version)
    after = await service.publish(session, assessment, commune.name)
    await audit.record(session, request, actor, step, "assessment", f"{code}/{year}", before, after, unit_chain=chain)
    return after


@router.post("/{year}/submit", summary="Submit for approval", responses=STEP_ERRORS)
async def submit(
    request: Request, session: SessionDep, principal: PrincipalDep, code: CommuneCode, year: Year, response: Response
) -> AssessmentPublic:
    """draft → submitted (the commune itself or any office above it)."""
    return await _step(request, session, principal, code, year, "submit", Action.assessment_submit, response)


@router.post("/{year}/approve", summary="Approve", responses=STEP_ERRORS)
async def approve(
    request: Request, session: SessionDep, principal: PrincipalDep, code: CommuneCode, year: Year, response: Response
) -> AssessmentPublic:
    """submitted → approved, by a district, province or admin user in scope who did not submit it (four eyes).
    An approved assessment is locked."""
    return await _step(request, session, principal, code, year, "approve", Action.assessment_review, response)


@router.post("/{year}/reopen", summary="Reopen", responses=STEP_ERRORS)
async def reopen(
    request: Request, session: SessionDep, principal: PrincipalDep, code: CommuneCode, year: Year, response: Response
) -> AssessmentPublic:
    """submitted or approved → draft, by a district, province or admin user in scope."""
    return await _step(request, session, principal, code, year, "reopen", Action.assessment_review, response)
