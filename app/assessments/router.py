"""/communes/{code}/assessments: yearly criteria assessments of a commune. Each route is one
call to its use case in ``service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import Field

from app.api.deps import IfMatchDep, IfNoneMatch, OptionalIfMatchDep, Page, PageDep, ReadSessionDep, WriteSessionDep
from app.assessments import service
from app.assessments.rules import Step
from app.assessments.schemas import AssessmentPublic, AssessmentPut, CriterionPatch, KindQuery
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.core.preconditions import ETAG_HEADER, NOT_MODIFIED_RESPONSE, etag, versioned
from app.core.types import DIGITS_ONLY, YearNumber
from app.criteria.models import AssessmentKind
from app.units.models import AdminUnit

router = APIRouter(prefix="/communes/{code}/assessments", tags=["Assessments"])

CommuneCode = Annotated[str, Path(pattern=r"^[0-9]{5}$", description="GSO commune code", examples=["02812"])]
Year = Annotated[YearNumber, Path(description="Assessment year", examples=[2021])]
Number = Annotated[
    int, Field(ge=1, le=99), DIGITS_ONLY, Path(description="Criterion number in the assessment's set", examples=[4])
]


async def valid_commune(session: WriteSessionDep, code: CommuneCode, year: Year) -> AdminUnit:
    """The path's commune as it was in the path's year: 404 for an unknown code, 422 for a unit
    that is not an assessable commune (a town, a district)."""
    return await service.resolve_commune(session, code, year)


CommuneDep = Annotated[AdminUnit, Depends(valid_commune)]

WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
STEP_ERRORS = problem_responses(401, 403, 404, 409, 412, 422)  # workflow steps: If-Match optional, never required


def _answer(response: Response, written: AssessmentPublic) -> AssessmentPublic:
    response.headers["ETag"] = etag(written.version)
    return written


@router.put(
    "/{year}",
    summary="Create or replace a year's assessment",
    responses={200: {"headers": ETAG_HEADER}, 201: {"model": AssessmentPublic, "description": "Created"},
               **WRITE_ERRORS},
)
async def put_assessment(
    session: WriteSessionDep, principal: PrincipalDep, commune: CommuneDep, year: Year, data: AssessmentPut,
    response: Response, precondition: IfMatchDep, kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic:
    """Every criterion of the set in force (or the named set) exactly once; 201 when new, 200 when replaced.
    A submitted or approved assessment is frozen (409) until reopened."""
    written = await service.put(session, principal, commune, year, data, kind=kind, if_match=precondition)
    if written.created:
        response.status_code = status.HTTP_201_CREATED
    return _answer(response, written.assessment)


@router.get(
    "/{year}",
    summary="A year's assessment",
    response_model=AssessmentPublic,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED_RESPONSE, **problem_responses(404, 422)},
)
async def get_assessment(
    session: ReadSessionDep, code: CommuneCode, year: Year, response: Response, if_none_match: IfNoneMatch = None,
    kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic | Response:
    """The commune's assessment of `kind` for the year (the commune that had this code that year)."""
    found = await service.read(session, code=code, year=year, kind=kind)
    return versioned(if_none_match, found.version, response) or found


@router.get("", summary="Assessment history", responses=problem_responses(404, 422))
async def list_assessments(
    session: ReadSessionDep, code: CommuneCode, page: PageDep, kind: KindQuery = AssessmentKind.chuan
) -> Page[AssessmentPublic]:
    """Every assessment of `kind` recorded under this commune code, newest first."""
    items, total = await service.history(session, code=code, kind=kind, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.patch("/{year}/criteria/{number}", summary="Change one criterion",
              responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS})
async def patch_criterion(
    session: WriteSessionDep, principal: PrincipalDep, commune: CommuneDep, year: Year, number: Number,
    data: CriterionPatch, response: Response, precondition: IfMatchDep, kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic:
    """Set one criterion met or not (with an optional note and indicator values); counts follow.
    A submitted or approved assessment is frozen (409) until reopened."""
    written = await service.patch_criterion(session, principal, commune, year, number, data, kind=kind,
                                            if_match=precondition)
    return _answer(response, written)


@router.post("/{year}/submit", summary="Submit for approval",
             responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS})
async def submit(
    session: WriteSessionDep, principal: PrincipalDep, commune: CommuneDep, year: Year, response: Response,
    precondition: OptionalIfMatchDep, kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic:
    """draft → submitted (the commune itself, any office above it, or an API key in scope).
    The submitted assessment is frozen until approved or reopened."""
    written = await service.transition(session, principal, commune, year, Step.submit, kind=kind,
                                       if_match=precondition)
    return _answer(response, written)


@router.post("/{year}/approve", summary="Approve",
             responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS})
async def approve(
    session: WriteSessionDep, principal: PrincipalDep, commune: CommuneDep, year: Year, response: Response,
    precondition: OptionalIfMatchDep, kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic:
    """submitted → approved, by a person of a district, province or admin in scope who did not submit
    it (four eyes); never by an API key. An approved assessment is locked."""
    written = await service.transition(session, principal, commune, year, Step.approve, kind=kind,
                                       if_match=precondition)
    return _answer(response, written)


@router.post("/{year}/reopen", summary="Reopen",
             responses={200: {"headers": ETAG_HEADER}, **STEP_ERRORS})
async def reopen(
    session: WriteSessionDep, principal: PrincipalDep, commune: CommuneDep, year: Year, response: Response,
    precondition: OptionalIfMatchDep, kind: KindQuery = AssessmentKind.chuan,
) -> AssessmentPublic:
    """submitted or approved → draft, by a person of a district, province or admin in scope; never
    by an API key."""
    written = await service.transition(session, principal, commune, year, Step.reopen, kind=kind,
                                       if_match=precondition)
    return _answer(response, written)
