"""Application factory: routers, error handlers, and the database engine's lifetime."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from app import __version__
from app.admin.criteria_sets import router as criteria_router
from app.admin.units import router as units_router
from app.api.deps import refuse_nul_characters
from app.assessments.router import router as assessments_router
from app.attributes.router import router as attributes_router
from app.auth.audit_router import router as audit_router
from app.auth.deps import authenticate
from app.auth.router import router as auth_router
from app.auth.router import token_router
from app.auth.service import token_subject
from app.core.admission import AdmissionMiddleware, Turns
from app.core.cache import CachedReportsMiddleware
from app.core.config import API_PREFIX, Settings, get_settings
from app.core.db import Database
from app.core.docs import install_docs
from app.core.errors import document_problems, install_error_handlers
from app.core.middleware import BodyLimitMiddleware, CatchAllMiddleware, RequestContextMiddleware
from app.core.openapi import operation_ids, tidy
from app.exchange.router import router as exchange_router
from app.indicators.router import router as indicators_router
from app.ops.metrics import Metrics, MetricsMiddleware
from app.ops.router import router as ops_router
from app.plan_indicators.router import router as plan_indicators_router
from app.recognitions.router import router as recognitions_router
from app.reports.router import report_key, report_subject
from app.reports.router import router as reports_router
from app.targets.router import router as targets_router
from app.web.router import STATIC as WEB_STATIC
from app.web.router import error_page
from app.web.router import router as web_router

DESCRIPTION = """
Tracks Vietnam's **New Rural Development programme** (Chương trình mục tiêu quốc gia xây dựng
nông thôn mới, NTM): each commune (xã) is assessed every year against the national criteria set
in force; district and provincial offices follow their plans (average criteria per commune,
communes to reach the standard) and the communes at risk.

* Unit codes are GSO codes; a unit is a code **plus** a validity period (the 2025 reform reused codes).
* Every error is an RFC 9457 `application/problem+json` body; validation errors list each bad field.
* Lists answer `{"items", "total", "limit", "offset"}`; `limit` is at most 500.
* Sizes and times: a request body at most 1 MiB (`NTM_MAX_BODY_BYTES`; uploads to `/api/v1/imports/`
  20 MiB, `NTM_IMPORT_MAX_BYTES`), else `413`. As `ntm serve` serves the API, a request's line and
  headers are at most 16 KiB (else `431`, and the connection is closed) and must arrive within
  `NTM_HEADER_TIMEOUT_SECONDS` (10) of the connection opening or of the previous response.
* Every `/api/v1` route needs a bearer token (`POST /api/v1/auth/token`, or the **Authorize**
  button) or an `X-API-Key`; reads are open to anonymous clients only when `NTM_PUBLIC_READ=true`.

Reference data (the Si Ma Cai district of Lào Cai and the units it became in 2025, the three
national criteria sets) is built in. Demo assessments and targets, when loaded, are
**illustrative**: chosen to reproduce the totals published for Si Ma Cai in 2020, not real
per-commune results.
"""

# operationIds are the endpoint functions' names in camelCase (app/core/openapi.py), except these,
# whose function names say too little out of context. Stable from v1.3 on: listed in the README.
OPERATION_IDS = {
    "healthz": "getHealth",
    "readyz": "getReadiness",
    "metrics": "getMetrics",
    "token": "signIn",
    "me": "getMe",
    "list_keys": "listApiKeys",
    "create_key": "createApiKey",
    "revoke_key": "revokeApiKey",
    "get_lineage": "getUnitLineage",
    "list_sets": "listCriteriaSets",
    "get_set": "getCriteriaSet",
    "submit": "submitAssessment",
    "approve": "approveAssessment",
    "reopen": "reopenAssessment",
    "template": "getImportTemplate",
    "report_xlsx": "getReportXlsx",
    "report_csv": "getReportCsv",
    "trend_svg": "getTrendChart",
    "bands_svg": "getBandsChart",
}

TAGS = [
    {"name": "Administrative units", "description": "Provinces, districts and communes with validity and lineage."},
    {"name": "Criteria sets", "description": "National NTM criteria sets (bộ tiêu chí) and their criteria."},
    {"name": "Assessments", "description": "Yearly criteria assessments of a commune (kết quả đánh giá tiêu chí)."},
    {"name": "Recognitions", "description": "Recognition decisions (công nhận đạt chuẩn), apart from the count."},
    {"name": "Targets", "description": "Yearly plans of a district, province or the nation (kế hoạch năm)."},
    {"name": "Plan indicators", "description": "Socio-economic plan indicators beside NTM (chỉ tiêu kế hoạch), "
                                               "achieved against their plan."},
    {"name": "Summaries and flags", "description": "Figures against the plan, per-commune flags, trend."},
    {"name": "Exchange", "description": "Spreadsheet import and template, report workbook and CSV, charts."},
    {"name": "Access", "description": "Sign-in, users, API keys and the audit trail."},
    {"name": "Operations", "description": "Health and readiness probes, Prometheus metrics."},
]


# Requests whose work runs in threads (a sign-in hashes its password; an upload is read, an export
# built and a static file read off the event loop) and the endpoints monitoring needs answered at
# once: they never wait for a turn (a flood of sign-ins would otherwise hold every turn while the
# loop sat idle).
_FILE_SUFFIXES = (".xlsx", ".csv", ".svg")
_MONITORING = frozenset({"/healthz", "/readyz", "/metrics"})
_STATIC = "/static/"  # files, read in threads
_FORMS = (b"multipart/form-data", b"application/x-www-form-urlencoded")


def runs_off_the_loop(scope: Scope) -> bool:
    path: str = scope["path"]
    if path.endswith(_FILE_SUFFIXES) or path in _MONITORING or path.startswith(_STATIC):
        return True
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    return content_type.lower().startswith(_FORMS)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    owns_database = database is None
    db = database or Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything alive after start-up (modules, compiled statements) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise add tens of ms
        # to an occasional request.
        gc.collect()
        gc.freeze()
        # A national summary makes ~40,000 short-lived objects: the youngest generation collected
        # every 20,000 allocations instead of 700 (0.5 ms less CPU a summary, in-process A/B);
        # the older generations as before, so cyclic garbage waits no longer than before to go.
        gc.set_threshold(20_000, 10, 10)
        yield
        if owns_database:
            await db.dispose()

    app = FastAPI(
        title="NTM Tracker",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, with local assets
        redoc_url=None,
        generate_unique_id_function=operation_ids(OPERATION_IDS),
        dependencies=[Depends(refuse_nul_characters)],
    )
    settings.signing_key  # noqa: B018 - refuses to start with a missing or placeholder secret in production
    app.state.db = db
    app.state.settings = settings
    app.state.error_page = error_page  # the pages' errors are pages (in Vietnamese)
    install_error_handlers(app)
    # outermost last: request ids and headers wrap everything, the body cap comes before any parsing
    app.add_middleware(CachedReportsMiddleware, subject=report_subject, key=report_key, token_user=token_subject)
    # one request at a time per turn, cache hits too; a body is read (under the cap below) before it queues
    app.state.turns = Turns(settings.worker_concurrency)
    app.add_middleware(AdmissionMiddleware, turns=app.state.turns, exempt=runs_off_the_loop)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       overrides={f"{API_PREFIX}/imports/": settings.import_max_bytes},
                       timeout=settings.body_timeout_seconds)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "If-Match", "If-None-Match"],
            expose_headers=["ETag", "X-Request-ID", "X-Cache", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware)
    app.state.metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_docs(app)
    app.add_middleware(CatchAllMiddleware)  # outermost: no error escapes to reset the connection
    # A request is matched against the routes in order, twice (FastAPI finds its route, then
    # handles it), so the most requested come first: the reports, then the writes. No route
    # shadows another (tests/contract/test_routes.py): the order changes only the time taken.
    protected = [Depends(authenticate)]
    for router in (reports_router, assessments_router, units_router, attributes_router, criteria_router,
                   recognitions_router, targets_router, exchange_router, plan_indicators_router, indicators_router):
        app.include_router(router, prefix=API_PREFIX, dependencies=protected)
    app.include_router(token_router, prefix=API_PREFIX)
    app.include_router(auth_router, prefix=API_PREFIX)
    app.include_router(audit_router, prefix=API_PREFIX)
    app.include_router(ops_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=WEB_STATIC), name="web-static")
    _document_security(app)
    return app


def _document_security(app: FastAPI) -> None:
    """Declare the two ways in (bearer token from the password flow, API key) on every API route."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags)
        spec.setdefault("components", {})["securitySchemes"] = {
            "OAuth2Password": {"type": "oauth2", "flows": {"password": {"tokenUrl": f"{API_PREFIX}/auth/token",
                                                                       "scopes": {}}}},
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, operations in spec["paths"].items():
            if path.startswith(API_PREFIX) and path != f"{API_PREFIX}/auth/token":
                for operation in operations.values():
                    operation["security"] = [{"OAuth2Password": []}, {"ApiKey": []}]
                    operation.setdefault("responses", {}).setdefault(
                        "401", {"description": "Not authenticated",
                                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
        document_problems(spec)
        app.openapi_schema = tidy(spec)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
