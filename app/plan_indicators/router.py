"""/api/v1/units/{code}/plan-indicators/{year}: the socio-economic plan indicators of a unit's year,
their summary, and the list as a spreadsheet (export and import)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile, status
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor

from app.api.deps import IfMatchDep, IfNoneMatch, ReadSessionDep, WriteSessionDep
from app.auth.deps import PrincipalDep
from app.core.errors import problem_responses
from app.core.preconditions import ETAG_HEADER, NOT_MODIFIED_RESPONSE, etag, versioned
from app.core.types import YearNumber
from app.plan_indicators import service, spreadsheet
from app.plan_indicators.models import CODE_MAX
from app.plan_indicators.schemas import (
    CODE_PATTERN,
    PlanIndicatorPatch,
    PlanIndicatorsOut,
    PlanIndicatorsPut,
    PlanIndicatorSummary,
)
from app.plan_indicators.spreadsheet import PlanIndicatorImportProblem, PlanIndicatorImportResult
from app.units.models import CODE_REGEX
from app.units.service import resolve_unit_above_commune


class _Year(StringConvertor):
    """A year segment that is not a file name: `/{year}` must not take `2020.xlsx` (that is the export,
    and a PUT there is a method the path does not allow: 405, not a bad year)."""

    regex = r"[^/]+(?<!\.xlsx)(?<!\.csv)"


class _IndicatorCode(StringConvertor):
    """An indicator code segment other than the sibling resources `summary` and `import`."""

    regex = r"(?!(?:summary|import)$)[^/]+"


register_url_convertor("ntm_plan_year", _Year())
register_url_convertor("ntm_plan_code", _IndicatorCode())
Y = "{year:ntm_plan_year}"  # the OpenAPI path still reads {year}

router = APIRouter(prefix="/units/{code}/plan-indicators", tags=["Plan indicators"])

UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="A unit above the commune", examples=["084"])]
Year = Annotated[YearNumber, Path(examples=[2020])]
IndicatorCode = Annotated[str, Path(max_length=CODE_MAX, pattern=CODE_PATTERN, examples=["XH-07"])]
WRITE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# The file routes come first: `/{year}` would otherwise take `2020.xlsx` as a (bad) year.
@router.get("/{year}.xlsx", operation_id="getPlanIndicatorsXlsx", summary="The year's plan indicators as a workbook",
            response_class=Response,
            responses={**_binary(spreadsheet.XLSX_MEDIA_TYPE, "The list, one row per indicator"),
                       **problem_responses(404, 422)})
async def export_xlsx(session: ReadSessionDep, code: UnitCode, year: Year) -> Response:
    """One row per indicator (code, name, unit, source, direction, plan, actual, note, NTM link), then the
    derived columns (achieved, % of plan) that an upload ignores: the file re-imports unchanged."""
    unit = await resolve_unit_above_commune(session, code, year)
    body = await service.read(session, unit, year)
    data = await run_in_threadpool(spreadsheet.to_xlsx, body, unit.name)
    return _download(data, spreadsheet.XLSX_MEDIA_TYPE, f"chi-tieu-ke-hoach-{code}-{year}.xlsx")


@router.get("/{year}.csv", operation_id="getPlanIndicatorsCsv", summary="The year's plan indicators as CSV",
            response_class=Response,
            responses={200: {"description": "UTF-8 with a BOM, comma separated",
                             "content": {"text/csv": {"schema": {"type": "string"}}}},
                       **problem_responses(404, 422)})
async def export_csv(session: ReadSessionDep, code: UnitCode, year: Year) -> Response:
    """The same table as the workbook, UTF-8 with a byte-order mark (Excel shows the Vietnamese)."""
    unit = await resolve_unit_above_commune(session, code, year)
    body = await service.read(session, unit, year)
    return _download(spreadsheet.to_csv(body), spreadsheet.CSV_MEDIA_TYPE, f"chi-tieu-ke-hoach-{code}-{year}.csv")


@router.get(f"/{Y}/summary", operation_id="getPlanIndicatorSummary", summary="Achievement of the year's plan indicators",
            response_model=PlanIndicatorSummary, responses=problem_responses(404, 422))
async def get_summary(session: ReadSessionDep, code: UnitCode, year: Year) -> PlanIndicatorSummary:
    """`total`, `achieved`, `not_achieved`, `pending`, `by_source` and the `not_achieved_items` with their
    `percent_of_plan` (the NTM average item uses the exact average)."""
    unit = await resolve_unit_above_commune(session, code, year)
    return await service.summary(session, unit, year)


@router.post(
    f"/{Y}/import", operation_id="importPlanIndicators", summary="Replace the year's list from a spreadsheet",
    response_model=PlanIndicatorImportResult,
    responses={422: {"model": PlanIndicatorImportProblem,
                     "content": {"application/problem+json": {"schema": {"anyOf": [
                         {"$ref": "#/components/schemas/PlanIndicatorImportProblem"}, {"$ref": "#/components/schemas/Problem"}]}}},
                     "description": "The file has errors (every error listed, nothing written), or the request "
                                    "itself is invalid"},
               **problem_responses(401, 403, 404, 412, 413, 415, 428)},
)
async def import_file(
    request: Request, session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, year: Year,
    file: Annotated[UploadFile, File(description="An .xlsx workbook or a UTF-8 .csv file")],
    precondition: IfMatchDep, response: Response,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
) -> PlanIndicatorImportResult:
    """Header row first: `code`/`Mã chỉ tiêu`, `name`/`Tên chỉ tiêu`, `unit`/`Đơn vị tính`, `source`/`Nguồn`,
    `direction`/`Chiều`, `plan`/`Kế hoạch`, `actual`/`Thực hiện`, `note`/`Ghi chú`, `ntm`/`Liên kết NTM`.
    All or nothing: any error → 422 listing every `{row, column, value, message}`, and nothing is written.
    The file replaces the year's list, as PUT does."""
    data = await file.read()
    outcome = await spreadsheet.import_list(session, principal, code=code, year=year, data=data,
                                            dry_run=dry_run, if_match=precondition,
                                            settings=request.app.state.settings)
    if outcome.version is not None:
        response.headers["ETag"] = etag(outcome.version)
    return outcome


@router.put(
    f"/{Y}", operation_id="putPlanIndicators", summary="Replace the year's plan indicators",
    responses={200: {"model": PlanIndicatorsOut, "headers": ETAG_HEADER, "description": "Replaced (or unchanged)"},
               201: {"model": PlanIndicatorsOut, "headers": ETAG_HEADER, "description": "Created"}, **WRITE_ERRORS},
)
async def put_plan_indicators(
    session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, year: Year,
    data: PlanIndicatorsPut, response: Response, precondition: IfMatchDep,
) -> PlanIndicatorsOut:
    """The whole list (codes unique); an item with `ntm` takes its actual from the NTM summary. 201 when new."""
    written = await service.replace(session, principal, code=code, year=year, data=data,
                                    if_match=precondition)
    if written.created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["ETag"] = etag(written.body.version)
    return written.body


@router.get(
    f"/{Y}", operation_id="getPlanIndicators", summary="The year's plan indicators", response_model=PlanIndicatorsOut,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED_RESPONSE, **problem_responses(404, 422)},
)
async def get_plan_indicators(
    session: ReadSessionDep, code: UnitCode, year: Year, response: Response, if_none_match: IfNoneMatch = None,
) -> PlanIndicatorsOut | Response:
    """`{unit_code, year, indicators, version}`; each indicator with `achieved` and `percent_of_plan`."""
    unit = await resolve_unit_above_commune(session, code, year)
    if (unchanged := versioned(if_none_match, await service.version_of(session, unit, year), response)) is not None:
        return unchanged
    return await service.read(session, unit, year)


@router.patch(
    f"/{Y}/{{indicator_code:ntm_plan_code}}", operation_id="patchPlanIndicator", summary="Record one indicator's actual or note",
    response_model=PlanIndicatorsOut, responses={200: {"headers": ETAG_HEADER}, **WRITE_ERRORS},
)
async def patch_plan_indicator(
    session: WriteSessionDep, principal: PrincipalDep, code: UnitCode, year: Year,
    indicator_code: IndicatorCode, data: PlanIndicatorPatch, response: Response, precondition: IfMatchDep,
) -> PlanIndicatorsOut:
    """`actual` and/or `note` (absent: unchanged; null: cleared); answers the whole list."""
    body = await service.patch(session, principal, code=code, year=year, indicator_code=indicator_code,
                               data=data, if_match=precondition)
    response.headers["ETag"] = etag(body.version)
    return body
