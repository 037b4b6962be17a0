"""Assessment indicator values judged by thresholds, through the HTTP API (contract v1.2;
SQLite and PostgreSQL). The built-in 2016–2020 set: 10.1 ≥ 36 (trung_du_mien_nui_phia_bac, from
2020), 15.1 ≥ 85 (same region); Sán Chải (02812, Lào Cai) is in that region."""

from __future__ import annotations

from tests.builders import criteria
from tests.helpers import assert_problem

URL = "/api/v1/communes/02812/assessments/2020"
RULE = "/problems/rule-violation"


def body(met: set[int] | int = 19, **indicators: dict) -> dict:
    items = criteria(met)
    for key, values in indicators.items():
        items[int(key[1:]) - 1]["indicators"] = values
    return {"criteria": items}


async def test_evaluation_and_met_by_indicators(client):
    payload = body(c10={"10.1": 41.5}, c15={"15.1": 80})
    response = await client.put(URL, json=payload)
    assert response.status_code == 201, response.text
    a = response.json()
    c10, c15, c1 = a["criteria"][9], a["criteria"][14], a["criteria"][0]
    assert c10["evaluation"] == [{"code": "10.1", "value": 41.5, "op": ">=", "threshold": 36, "met": True}]
    assert c10["met_by_indicators"] is True and c10["met"] is True
    assert c15["evaluation"] == [{"code": "15.1", "value": 80, "op": ">=", "threshold": 85, "met": False}]
    assert c15["met_by_indicators"] is False and c15["met"] is True  # given: kept, and a conflict
    assert c1["evaluation"] == [] and c1["met_by_indicators"] is None
    assert a["indicator_conflicts"] == [15] and a["met_count"] == 19
    read = (await client.get(URL)).json()
    assert read["criteria"] == a["criteria"] and read["indicator_conflicts"] == [15]

    only = await client.get("/api/v1/units/084/flags", params={"year": 2020, "flag": "indicator_conflict"})
    assert only.status_code == 200, only.text
    assert [r["commune_code"] for r in only.json()["items"]] == ["02812"]
    assert "indicator_conflict" in only.json()["items"][0]["flags"]

    # agreeing again: no conflict, no flag
    fixed = await client.patch(f"{URL}/criteria/15", json={"indicators": {"15.1": 90}})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["indicator_conflicts"] == [] and fixed.json()["criteria"][14]["met_by_indicators"] is True
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2020})).json()["items"]
    assert flags and all("indicator_conflict" not in r["flags"] for r in flags)


async def test_met_omitted_follows_the_indicators(client):
    payload = body(c10={"10.1": 30}, c15={"15.1": 85})
    del payload["criteria"][9]["met"]
    del payload["criteria"][14]["met"]
    response = await client.put(URL, json=payload)
    assert response.status_code == 201, response.text
    a = response.json()
    assert a["criteria"][9]["met"] is False and a["criteria"][14]["met"] is True
    assert a["not_met"] == [10] and a["met_count"] == 18 and a["indicator_conflicts"] == []

    patched = await client.patch(f"{URL}/criteria/10", json={"indicators": {"10.1": 36}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["criteria"][9]["met"] is True and patched.json()["met_count"] == 19

    # met given against the indicators: written, listed as a conflict
    forced = await client.patch(f"{URL}/criteria/10", json={"met": False})
    assert forced.status_code == 200, forced.text
    assert forced.json()["indicator_conflicts"] == [10] and forced.json()["met_count"] == 18


async def test_met_omitted_and_undecided_is_422_naming_the_criterion(client):
    payload = body()
    del payload["criteria"][3]["met"]  # criterion 4 has no judged indicators
    response = await client.put(URL, json=payload)
    problem = assert_problem(response, 422, field="criteria[3].met")
    assert problem["type"].endswith(RULE) and "criterion 4" in problem["detail"]

    payload = body(c10={})
    del payload["criteria"][9]["met"]  # no value
    assert_problem(await client.put(URL, json=payload), 422, field="criteria[9].met")

    # 2019: no threshold of 10.1 covers the year → not judged
    payload = body(c10={"10.1": 50})
    del payload["criteria"][9]["met"]
    assert_problem(await client.put("/api/v1/communes/02812/assessments/2019", json=payload), 422,
                   field="criteria[9].met")

    assert (await client.put(URL, json=body())).status_code == 201
    assert_problem(await client.patch(f"{URL}/criteria/4", json={"note": "x"}), 422, field="met")


async def test_indicator_keys_and_values_are_checked(client):
    cases = [
        (body(c3={"10.1": 40}), "criteria[2].indicators.10.1"),  # another criterion's indicator
        (body(c10={"99.9": 40}), "criteria[9].indicators.99.9"),
        (body(c10={"10.1": True}), "criteria[9].indicators.10.1"),  # a boolean for a numeric one
        (body(c10={"10.1": "41"}), "criteria[9].indicators.10.1"),
        (body(c10={"10.1": 10**400}), "criteria[9].indicators.10.1"),  # past a double's range: was a 500
    ]
    for payload, field in cases:
        problem = assert_problem(await client.put(URL, json=payload), 422, field=field)
        assert problem["type"].endswith(RULE), problem
    assert (await client.get(URL)).status_code == 404  # nothing written

    assert (await client.put(URL, json=body())).status_code == 201
    problem = assert_problem(await client.patch(f"{URL}/criteria/15", json={"met": True, "indicators": {"10.1": 1}}),
                             422, field="indicators.10.1")
    assert problem["type"].endswith(RULE)
    non_finite = await client.patch(f"{URL}/criteria/15", content=b'{"indicators": {"15.1": NaN}}',
                                    headers={"content-type": "application/json"})
    assert non_finite.status_code == 422


async def test_threshold_follows_the_communes_region_in_the_year(client):
    # Sán Chải set in another region for 2020: 10.1's only threshold (northern midland) does not apply
    set_region = await client.put("/api/v1/units/02812/attributes/2020", json={"region": "dong_bang_song_hong"})
    assert set_region.status_code in (200, 201), set_region.text
    response = await client.put(URL, json=body(c10={"10.1": 20}))
    assert response.status_code == 201, response.text
    c10 = response.json()["criteria"][9]
    assert c10["evaluation"] == [] and c10["met_by_indicators"] is None
    assert response.json()["indicator_conflicts"] == []


async def test_rejudge_restores_the_conflicts_of_old_rows(db, client):
    """`ntm assessments rejudge`: a row stored before conflicts were (its column 0) shows them again;
    a second run changes nothing; versions stay."""
    from sqlalchemy import text

    from app.assessments.service import rejudge

    c = [{"number": n, "met": n <= 15} for n in range(1, 20)]
    c[9] = {"number": 10, "met": True, "indicators": {"10.1": 30}}  # income below the 36 of 2016-2020
    written = await client.put("/api/v1/communes/02812/assessments/2020", json={"criteria": c})
    assert written.status_code == 201 and written.json()["indicator_conflicts"] == [10]
    async with db.transaction() as session:
        await session.execute(text("UPDATE assessment SET indicator_conflicts = 0"))
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2020, "flag": "indicator_conflict"},
                              headers={"Cache-Control": "no-cache"})).json()
    assert flags["total"] == 0
    async with db.transaction() as session:
        assert await rejudge(session) == (1, 1)
    async with db.transaction() as session:
        assert await rejudge(session) == (1, 0)
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2020, "flag": "indicator_conflict"},
                              headers={"Cache-Control": "no-cache"})).json()
    assert [f["commune_code"] for f in flags["items"]] == ["02812"]
    assert (await client.get("/api/v1/communes/02812/assessments/2020")).json()["version"] == 1
