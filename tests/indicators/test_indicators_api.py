"""GET /units/{code}/indicators (contract v1.2), on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.indicators.rules import aggregate
from tests.builders import criteria
from tests.helpers import assert_problem


async def put(client, code: str, year: int, values: dict[int, dict]) -> None:
    body = criteria(17)
    for number, given_values in values.items():
        body[number - 1]["indicators"] = given_values
    r = await client.put(f"/api/v1/communes/{code}/assessments/{year}", json={"criteria": body})
    assert r.status_code in (200, 201), r.text


async def test_income_over_the_district(client):
    await put(client, "02812", 2020, {10: {"10.1": 38}})
    await put(client, "02800", 2020, {10: {"10.1": 35.5}})
    await put(client, "02803", 2020, {10: {"10.1": 41.25}, 15: {"15.1": 90}})
    await put(client, "02806", 2019, {10: {"10.1": 36}})  # carried forward to 2020
    await put(client, "02818", 2019, {10: {"10.1": 20}})  # …but its own 2020 assessment, without a value, counts
    await put(client, "02818", 2020, {})
    r = await client.get("/api/v1/units/084/indicators", params={"year": 2020, "code": "10.1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("code", "unit", "op", "criteria_set")} == {
        "code": "10.1", "unit": "triệu đồng/người/năm", "op": ">=", "criteria_set": "2016-2020"}
    assert (body["communes_with_value"], body["communes_meeting"], body["communes_judged"]) == (4, 3, 4)
    assert (body["min"], body["max"], body["mean"]) == (35.5, 41.25, 37.69)  # 150.75 / 4 = 37.6875 → 37.69
    # 2019: the threshold is given for 2020 ("đến năm 2020"), so nothing is judged
    y2019 = (await client.get("/api/v1/units/084/indicators", params={"year": 2019, "code": "10.1"})).json()
    assert (y2019["communes_with_value"], y2019["communes_judged"], y2019["communes_meeting"]) == (2, 0, 0)
    # the province above sees the same communes
    province = (await client.get("/api/v1/units/10/indicators", params={"year": 2020, "code": "10.1"})).json()
    assert province["communes_with_value"] == 4 and province["mean"] == 37.69


async def test_no_values_gives_nulls(client):
    body = (await client.get("/api/v1/units/084/indicators", params={"year": 2020, "code": "15.1"})).json()
    assert (body["communes_with_value"], body["communes_meeting"]) == (0, 0)
    assert (body["min"], body["max"], body["mean"]) == (None, None, None)


async def test_bad_requests(client):
    assert_problem(await client.get("/api/v1/units/084/indicators", params={"year": 2020, "code": "99.9"}), 422,
                   field="code")
    assert_problem(await client.get("/api/v1/units/084/indicators", params={"year": 2020}), 422, field="code")
    assert_problem(await client.get("/api/v1/units/02812/indicators", params={"year": 2020, "code": "10.1"}), 422)
    assert_problem(await client.get("/api/v1/units/999/indicators", params={"year": 2020, "code": "10.1"}), 404)
    assert_problem(await client.get("/api/v1/units/084/indicators", params={"year": 2010, "code": "10.1"}), 422)


@pytest.mark.pure
@given(st.lists(st.tuples(st.none() | st.decimals(min_value=-1000, max_value=1000, places=3), st.none() | st.booleans()),
                max_size=30))
def test_aggregate_counts_and_mean(items):
    values = [(None if v is None else float(v), m) for v, m in items]
    out = aggregate(values)
    present = [(v, m) for v, m in items if v is not None]
    assert out.communes_with_value == len(present)
    assert out.communes_judged == sum(1 for _, m in present if m is not None)
    assert out.communes_meeting == sum(1 for _, m in present if m)
    if present:
        numbers = [Decimal(repr(float(v))) for v, _ in present]
        assert out.min == min(numbers) and out.max == max(numbers)
        assert abs(out.mean - sum(numbers) / len(numbers)) <= Decimal("0.005")
        assert out.min <= out.mean <= out.max or abs(out.mean - out.min) <= Decimal("0.005")
    else:
        assert out.min is out.max is out.mean is None
