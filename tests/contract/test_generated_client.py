"""A Python client generated with openapi-python-client from the live /openapi.json of a real
server process, used as another government system would: sign in, upload an import (dry run),
read a summary, and take an assessment through submit and approve with two users (four eyes).
On SQLite and PostgreSQL. The generator must print no warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import httpx

from app.auth.models import Role
from tests.builders import load_demo
from tests.servers import running
from tests.users import PASSWORD, make_user

HERE = Path(__file__).parent
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def generate(base: str, tmp_path: Path, package: str):
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(f"{base}/openapi.json").content)
    config = tmp_path / "config.yaml"
    config.write_text((HERE / "openapi-python-client.yaml").read_text() + f"package_name_override: {package}\n")
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none", "--config", str(config),
         "--output-path", str(tmp_path / package)],
        capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    print(f"openapi-python-client:\n{output}")
    assert result.returncode == 0, output
    assert "warning" not in output.lower() and "cannot" not in output.lower() and "error" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))


async def test_generated_client_signs_in_imports_reads_and_approves(db, backend, tmp_path):
    await load_demo(db)
    await make_user(db, username="san-chai", role=Role.commune, unit_code="02812")
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    with running(db.settings.database_url) as base:
        package = f"ntm_client_{backend}"
        generate(base, tmp_path, package)
        client_mod = importlib.import_module(f"{package}.client")
        models = importlib.import_module(f"{package}.models")
        types = importlib.import_module(f"{package}.types")
        api = lambda name: importlib.import_module(f"{package}.api.{name}")  # noqa: E731
        sign_in = api("access.sign_in")
        get_me = api("access.get_me")
        import_assessments = api("exchange.import_assessments")
        get_summary = api("summaries_and_flags.get_summary")
        put_assessment = api("assessments.put_assessment")
        submit = api("assessments.submit_assessment")
        approve = api("assessments.approve_assessment")
        get_report_xlsx = api("exchange.get_report_xlsx")

        anonymous = client_mod.Client(base_url=base, raise_on_unexpected_status=True)

        def signed_in(username: str):
            token = sign_in.sync(client=anonymous, body=models.SignInBody(username=username, password=PASSWORD))
            assert isinstance(token, models.Token), token
            return client_mod.AuthenticatedClient(base_url=base, token=token.access_token,
                                                  raise_on_unexpected_status=True)

        commune, district = signed_in("san-chai"), signed_in("si-ma-cai")
        wrong = sign_in.sync(client=anonymous, body=models.SignInBody(username="san-chai", password="not it at all"))
        assert isinstance(wrong, models.Problem) and wrong.status == 401

        me = get_me.sync(client=district)
        assert isinstance(me, models.Me) and me.username == "si-ma-cai" and me.kind == models.MeKind.USER

        # an upload (dry run): a CSV of one commune row, 19 criteria of the 2021-2025 set
        csv = ("commune_code," + ",".join(str(n) for n in range(1, 20)) + "\n"
               + "02812," + ",".join("x" if n <= 17 else "" for n in range(1, 20)) + "\n").encode()
        upload = types.File(payload=__import__("io").BytesIO(csv), file_name="2022.csv", mime_type="text/csv")
        result = import_assessments.sync(client=district, body=models.ImportAssessmentsBody(file=upload), year=2022,
                                         dry_run=True)
        assert isinstance(result, models.ImportResult), result
        assert result.dry_run and result.rows == 1 and result.created == 1 and result.errors == []

        summary = get_summary.sync(client=district, code="084", year=2021)
        assert isinstance(summary, models.Summary), summary
        assert summary.average == 16.1 and summary.total_criteria_met == 145

        criteria = [models.CriterionResult(number=n, met=n <= 18) for n in range(1, 20)]
        written = put_assessment.sync_detailed(client=commune, code="02812", year=2022,
                                               body=models.AssessmentPut(criteria=criteria))
        assert written.status_code == 201 and written.parsed.met_count == 18
        stale = put_assessment.sync(client=commune, code="02812", year=2022, if_match='"999"',
                                    body=models.AssessmentPut(criteria=criteria))
        assert isinstance(stale, models.Problem) and stale.status == 412 and stale.current_version == 1

        submitted = submit.sync(client=commune, code="02812", year=2022)
        assert isinstance(submitted, models.AssessmentPublic) and submitted.status == models.AssessmentStatus.SUBMITTED
        refused = approve.sync(client=commune, code="02812", year=2022)
        assert isinstance(refused, models.Problem) and refused.status == 403
        approved = approve.sync(client=district, code="02812", year=2022)
        assert isinstance(approved, models.AssessmentPublic) and approved.status == models.AssessmentStatus.APPROVED

        workbook = get_report_xlsx.sync(client=district, code="084", year=2021)
        assert isinstance(workbook, types.File) and workbook.payload.read(2) == b"PK"
