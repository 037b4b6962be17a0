"""/api/v1/communes/{code}/assessments: yearly criteria assessments of a commune."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import Page, PageDep, SessionDep
from app.assessments import service
from app.assessments.models import AssessmentPublic, AssessmentPut, CriterionPatch
from app.core.errors import problem_responses
from app.units import service as units_service

router = APIRouter(prefix="/communes/{code}/assessments", tags=["Assessments"])

CommuneCode = Annotated[str, Path(pattern=r"^\d{5}$", description="GSO commune code", examples=["02812"])]
Year = Annotated[int, Path(ge=1900, le=2100, description="Assessment year", examples=[2021])]
Number = Annotated[int, Path(ge=1, le=99, description="Criterion number in the assessment's set", examples=[4])]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.put(
    "/{year}",
    summary="Create or replace a year's assessment",
    responses={201: {"model": AssessmentPublic, "description": "Created"}, **problem_responses(404, 422)},
)
async def put_assessment(
    session: SessionDep, code: CommuneCode, year: Year, data: AssessmentPut, response: Response
) -> AssessmentPublic:
    """Every criterion of the set in force (or the named set) exactly once; 201 when new, 200 when replaced."""
    commune = await service.resolve_commune(session, code, year)
    assessment, created = await service.put(session, commune=commune, year=year, data=data)
    if created:
        response.status_code = status.HTTP_201_CREATED
    _etag(response, assessment.version)
    return await service.publish(session, assessment, commune.name)


@router.get("/{year}", summary="A year's assessment", responses=problem_responses(404, 422))
async def get_assessment(session: SessionDep, code: CommuneCode, year: Year, response: Response) -> AssessmentPublic:
    """The commune's assessment for the year (the commune that had this code that year)."""
    commune = await service.resolve_commune(session, code, year)
    assessment = await service.get_or_404(session, commune, year)
    _etag(response, assessment.version)
    return await service.publish(session, assessment, commune.name)


@router.get("", summary="Assessment history", responses=problem_responses(404, 422))
async def list_assessments(session: SessionDep, code: CommuneCode, page: PageDep) -> Page[AssessmentPublic]:
    """Every assessment recorded under this commune code, newest first."""
    await units_service.resolve(session, code)
    items, total = await service.history(session, code=code, limit=page.limit, offset=page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.patch(
    "/{year}/criteria/{number}", summary="Change one criterion", responses=problem_responses(404, 422)
)
async def patch_criterion(
    session: SessionDep, code: CommuneCode, year: Year, number: Number, data: CriterionPatch, response: Response
) -> AssessmentPublic:
    """Set one criterion met or not (with an optional note and indicator values); counts follow."""
    commune = await service.resolve_commune(session, code, year)
    assessment = await service.patch_criterion(session, commune=commune, year=year, number=number, data=data)
    _etag(response, assessment.version)
    return await service.publish(session, assessment, commune.name)
