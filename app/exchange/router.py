"""Spreadsheet import, the import template, the report workbook/CSV and the charts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Path, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.api.deps import ReadSessionDep, WriteSessionDep
from app.assessments.schemas import KindQuery
from app.auth.deps import PrincipalDep, require
from app.auth.rules import Action
from app.core.errors import ServiceUnavailable, problem_responses
from app.core.types import YearNumber
from app.criteria import service as criteria_service
from app.criteria.models import AssessmentKind
from app.exchange import charts, service, workbooks
from app.exchange.models import ImportProblem, ImportResult
from app.reports import service as reports_service
from app.units import service as units_service
from app.units.models import CODE_REGEX
from app.units.service import ensure_above_commune, resolve_unit_above_commune

router = APIRouter(tags=["Exchange"])

YearQuery = Annotated[YearNumber, Query(description="The year", examples=[2021])]
UnitCode = Annotated[str, Path(pattern=CODE_REGEX, description="A district, province or `VN`", examples=["084"])]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="Makes a retried upload a no-op: the same key (per user) answers the first result"),
]


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string",
                                                                                   "format": "binary"}}}}}


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post(
    "/imports/assessments",
    summary="Import a year of assessments from a spreadsheet",
    response_model=ImportResult,
    responses={422: {"model": ImportProblem,
                     "content": {"application/problem+json": {"schema": {"anyOf": [
                         {"$ref": "#/components/schemas/ImportProblem"}, {"$ref": "#/components/schemas/Problem"}]}}},
                     "description": "The file has errors (every error listed, nothing written), or the request "
                                    "itself is invalid (a plain problem naming the field)"},
               **problem_responses(401, 403, 409, 413, 415, 503)},
)
async def import_assessments(
    request: Request,
    session: WriteSessionDep,
    principal: PrincipalDep,
    year: YearQuery,
    file: Annotated[UploadFile, File(description="An .xlsx workbook or a UTF-8 .csv file")],
    response: Response,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
    idempotency_key: IdempotencyKey = None,
    kind: KindQuery = AssessmentKind.chuan,
) -> ImportResult:
    """One row per commune (`commune_code`/`Mã xã`, optional `name`/`Tên xã`), one column per criterion
    (`1`…`19`, `TC01`, `Tiêu chí 1`). Marks: met `x`, `Đạt`, `1`, `true`; not met empty, `Không`, `0`,
    `false`. Optional indicator columns, headed by an indicator code of the year's set (`10.1`): a number
    (`41,5` or `41.5`; finite) or, for a yes/no indicator, a mark; empty = no value. They are checked and
    judged as PUT's `indicators`: a criterion whose mark is empty takes `met_by_indicators` when its
    indicators have columns (not met when they do not decide it); a given mark that disagrees is
    written and listed in `indicator_conflicts`; indicators without a column keep their recorded values.
    A column the set does not know (an unknown header, an indicator code not in the set, values under
    no header) is an error. All or nothing: any error → 422 listing every error (row and column), and
    nothing is written. A row whose criterion and indicator cells are all blank is skipped; a row with
    the marks and values already recorded is `unchanged`. The sheet used is the first whose row 1 has a
    commune code column; a row starting with `Tổng hợp` ends the table. Limits: 413 past the rows,
    columns (200), cells or distinct values of an upload; 503 with `Retry-After` while this server runs
    its maximum of imports at once."""
    settings = request.app.state.settings
    async with import_slot(request):
        # the upload stays in its spooled file (on disk past 1 MB) and is read in place, never whole
        imported = await service.run_import(
            session, require(principal, Action.assessment_write), file.file, year=year, dry_run=dry_run,
            idempotency_key=idempotency_key, kind=kind,
            limits=service.Limits(max_rows=settings.import_max_rows,
                                  max_unzipped_bytes=settings.import_max_unzipped_bytes),
        )
    if imported.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return imported.result


@asynccontextmanager
async def import_slot(request: Request) -> AsyncIterator[None]:
    """At most ``NTM_IMPORT_CONCURRENCY`` imports at once per worker: each holds a workbook's cells
    (bounded, see app/exchange/sheets.py); one more is refused at once with 503 and Retry-After."""
    state = request.app.state
    slots: asyncio.Semaphore | None = getattr(state, "import_slots", None)
    if slots is None:
        slots = state.import_slots = asyncio.Semaphore(state.settings.import_concurrency)
    if slots.locked():
        raise ServiceUnavailable("Other imports are running on this server; retry in a few seconds.",
                                 headers={"Retry-After": str(IMPORT_RETRY_AFTER)})
    async with slots:
        yield


IMPORT_RETRY_AFTER = 5


@router.get(
    "/imports/assessments/template.xlsx",
    summary="The import template for a unit and year",
    response_class=Response,
    responses={**_binary(workbooks.XLSX_MEDIA_TYPE, "The template workbook"), **problem_responses(404, 422)},
)
async def template(
    session: ReadSessionDep,
    unit: Annotated[str, Query(pattern=CODE_REGEX, description="A district, province or `VN`", examples=["084"])],
    year: YearQuery,
    kind: KindQuery = AssessmentKind.chuan,
) -> Response:
    """The unit's communes × the set's criteria, then one column per indicator of the set headed by its code
    (`10.1`), pre-filled with the communes' own assessments for the year (marks and indicator values),
    with a dropdown (`Đạt`/`Không`) in each criterion and yes/no indicator cell. Uploaded unchanged, it
    changes nothing."""
    found = await resolve_unit_above_commune(session, unit, year)
    data = await service.report_data(session, found, year, with_figures=False, kind=kind)
    body = await run_in_threadpool(workbooks.template_xlsx, data)
    return _download(body, workbooks.XLSX_MEDIA_TYPE, f"ntm-mau-nhap-{unit}-{year}.xlsx")


@router.get(
    "/units/{code}/report.xlsx",
    summary="The report workbook",
    response_class=Response,
    responses={**_binary(workbooks.XLSX_MEDIA_TYPE, "The report workbook"), **problem_responses(404, 422)},
)
async def report_xlsx(session: ReadSessionDep, code: UnitCode, year: YearQuery,
                      kind: KindQuery = AssessmentKind.chuan) -> Response:
    """Sheet 1: one row per commune (criteria marked, indicator values, count, band, flags) and the totals block (figures
    as numbers shown with one decimal, `16,1` in a Vietnamese Excel; text that could run as a formula
    gets a leading `'`); sheet 2: communes meeting each criterion; sheet 3: the trend."""
    unit = await resolve_unit_above_commune(session, code, year)
    data = await service.report_data(session, unit, year, with_figures=True, kind=kind)
    body = await run_in_threadpool(workbooks.report_xlsx, data)
    return _download(body, workbooks.XLSX_MEDIA_TYPE, f"ntm-bao-cao-{code}-{year}.xlsx")


@router.get(
    "/units/{code}/report.csv",
    summary="The report as CSV",
    response_class=Response,
    responses={200: {"description": "Sheet 1 of the report workbook, UTF-8 with a BOM",
                     "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}},
               **problem_responses(404, 422)},
)
async def report_csv(session: ReadSessionDep, code: UnitCode, year: YearQuery,
                     kind: KindQuery = AssessmentKind.chuan) -> Response:
    """The communes and the totals block, UTF-8 with a byte-order mark so that Excel reads the Vietnamese."""
    unit = await resolve_unit_above_commune(session, code, year)
    data = await service.report_data(session, unit, year, with_figures=True, kind=kind)
    return _download(workbooks.report_csv(data), workbooks.CSV_MEDIA_TYPE, f"ntm-bao-cao-{code}-{year}.csv")


_SVG = _binary(charts.SVG_MEDIA_TYPE, "An SVG chart")


@router.get("/units/{code}/trend.svg", summary="Chart: average per year against the plan",
            response_class=Response, responses={**_SVG, **problem_responses(404, 422)})
async def trend_svg(
    session: ReadSessionDep,
    code: UnitCode,
    first: Annotated[YearNumber | None, Query(alias="from", description="First year")] = None,
    last: Annotated[YearNumber | None, Query(alias="to", description="Last year")] = None,
    kind: KindQuery = AssessmentKind.chuan,
) -> Response:
    """The published average criteria per commune for each year, with the planned average as a dashed line."""
    unit = ensure_above_commune(await units_service.resolve(session, code))
    rows = await reports_service.trend(session, unit, first=first, last=last, kind=kind)
    counts = [(await criteria_service.get_set(session, code)).criteria_count for code in {r.criteria_set for r in rows}]
    body = await run_in_threadpool(
        charts.trend_svg, f"{unit.name}: bình quân tiêu chí/xã", [r.year for r in rows],
        [r.average for r in rows], [r.target_average for r in rows], max(counts, default=None),
    )
    return Response(body, media_type=charts.SVG_MEDIA_TYPE)


@router.get("/units/{code}/bands.svg", summary="Chart: communes per band", response_class=Response,
            responses={**_SVG, **problem_responses(404, 422)})
async def bands_svg(session: ReadSessionDep, code: UnitCode, year: YearQuery,
                    kind: KindQuery = AssessmentKind.chuan) -> Response:
    """How many communes meet how many criteria, by the bands of the set in force."""
    unit = await resolve_unit_above_commune(session, code, year)
    summary = await reports_service.summary(session, unit, year, kind=kind)
    body = await run_in_threadpool(charts.bands_svg, f"{unit.name}, {year}: số xã theo số tiêu chí đạt",
                                   summary.bands)
    return Response(body, media_type=charts.SVG_MEDIA_TYPE)
