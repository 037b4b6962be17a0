"""Unit attributes by year (commune group, region) and inherited regions (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from httpx import ASGITransport, AsyncClient
from hypothesis import given
from hypothesis import strategies as st

from app.auth.models import Role
from app.units import rules
from tests.helpers import assert_problem
from tests.users import bearer, make_user

TDMNPB = "trung_du_mien_nui_phia_bac"


def test_inherited_region_is_the_most_common():
    assert rules.inherited_region(["tay_nguyen", "duyen_hai_nam_trung_bo", "tay_nguyen"]) == "tay_nguyen"
    assert rules.inherited_region([None, "tay_nguyen"]) == "tay_nguyen"
    assert rules.inherited_region(["a", "b"]) == "a"  # a tie: the first met
    assert rules.inherited_region([]) is None


@given(st.dictionaries(st.integers(2020, 2030), st.tuples(st.none() | st.integers(1, 3), st.none() | st.sampled_from("ab"))),
       st.integers(2018, 2032))
def test_each_field_comes_from_the_latest_year_that_sets_it(records, year):
    [got] = rules.attributes_in_force(records, [year], unit_region="u")
    groups = [g for y, (g, _) in sorted(records.items()) if y <= year and g is not None]
    regions = [r for y, (_, r) in sorted(records.items()) if y <= year and r is not None]
    assert got.commune_group == (groups[-1] if groups else None)
    assert got.region == (regions[-1] if regions else "u")


async def test_put_and_get_attributes_carry_forward(client):
    created = await client.put("/api/v1/units/02809/attributes/2026", json={"commune_group": 3, "region": None})
    assert created.status_code == 201, created.text
    assert created.json() == {**created.json(), "unit_code": "02809", "year": 2026, "commune_group": 3,
                              "region": None, "version": 1}
    assert (await client.put("/api/v1/units/02809/attributes/2028",
                             json={"commune_group": None, "region": "tay_nguyen"})).status_code == 201
    replaced = await client.put("/api/v1/units/02809/attributes/2026", json={"commune_group": 2})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    got = (await client.get("/api/v1/units/02809/attributes", params={"from": 2025, "to": 2029})).json()
    assert got["total"] == 5
    assert [(i["year"], i["commune_group"], i["region"]) for i in got["items"]] == [
        (2025, None, TDMNPB), (2026, 2, TDMNPB), (2027, 2, TDMNPB), (2028, 2, "tay_nguyen"), (2029, 2, "tay_nguyen")]
    records = (await client.get("/api/v1/audit", params={"entity": "unit_attributes"})).json()["items"]
    assert records[0]["action"] == "replace" and records[0]["before"]["commune_group"] == 3
    assert records[0]["after"]["commune_group"] == 2
    # default range: from the first year set to this year
    default = (await client.get("/api/v1/units/02809/attributes")).json()["items"]
    assert default[0]["year"] == 2026 and default[-1]["year"] == dt.date.today().year


async def test_attributes_refuse_bad_input(db, app, client):
    assert_problem(await client.put("/api/v1/units/02809/attributes/2026", json={"commune_group": 4}), 422,
                   field="commune_group")
    assert_problem(await client.put("/api/v1/units/02809/attributes/2026", json={"region": "mars"}), 422,
                   field="region")
    assert_problem(await client.put("/api/v1/units/084/attributes/2026", json={}), 422, field="code")  # gone in 2026
    assert_problem(await client.put("/api/v1/units/99999/attributes/2026", json={}), 404)
    assert_problem(await client.get("/api/v1/units/02809/attributes", params={"from": 2030, "to": 2020}), 422,
                   field="to")
    assert_problem(await client.get("/api/v1/units/02809/attributes", params={"from": 1950, "to": 2020}), 422,
                   field="to")
    await make_user(db, username="lao-cai", role=Role.province, unit_code="10")
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test",
                           headers=bearer(app, "lao-cai")) as old_province:
        refused = assert_problem(await old_province.put("/api/v1/units/02809/attributes/2026",
                                                        json={"commune_group": 1}), 403)
        assert "may not set targets, plan indicators or unit attributes" in refused["detail"]  # not "set targets"
        assert (await old_province.put("/api/v1/units/02812/attributes/2021", json={"commune_group": 3})
                ).status_code == 201


async def test_merged_unit_inherits_its_predecessors_region(client):
    """A commune created by a merger takes the most common region of its predecessors, not its province's."""
    for code, name, region in (("90", "Tỉnh Cao Nguyên", "tay_nguyen"), ("91", "Tỉnh Duyên Hải", "duyen_hai_nam_trung_bo")):
        response = await client.post("/api/v1/units", json={"code": code, "name": name, "level": "province",
                                                             "kind": "tinh", "parent_code": "VN", "region": region})
        assert response.status_code == 201, response.text
    for code, parent, region in (("90001", "90", "tay_nguyen"), ("90002", "90", "tay_nguyen"),
                                 ("91001", "91", "duyen_hai_nam_trung_bo")):
        response = await client.post("/api/v1/units", json={
            "code": code, "name": f"Xã {code}", "level": "commune", "kind": "xa", "parent_code": parent,
            "region": region, "valid_to": "2025-06-30"})
        assert response.status_code == 201, response.text
    merged = await client.post("/api/v1/units", json={
        "code": "91100", "name": "Xã Mới", "level": "commune", "kind": "xa", "parent_code": "91",
        "valid_from": "2025-07-01", "predecessor_codes": ["90001", "90002", "91001"]})
    assert merged.status_code == 201, merged.text
    assert merged.json()["region"] == "tay_nguyen"
    items = (await client.get("/api/v1/units/91100/attributes", params={"from": 2025, "to": 2026})).json()["items"]
    assert [i["region"] for i in items] == ["tay_nguyen", "tay_nguyen"]
    # a merged unit stored without a region (an older import) still answers its predecessors' region
    cleared = await client.patch("/api/v1/units/91100", json={"region": None})
    assert cleared.status_code == 200 and cleared.json()["region"] is None
    items = (await client.get("/api/v1/units/91100/attributes", params={"from": 2025, "to": 2025})).json()
    assert items["items"][0]["region"] == "tay_nguyen"


async def test_attributes_of_many_units_at_once_are_those_of_each(db, client):
    """``attributes_in_year_of`` (the import's bulk read) answers what ``attributes_in_year`` answers per
    unit: own regions, inherited ones (the 2025 reform's communes), and yearly records carried forward."""
    from sqlalchemy import select

    from app.units import service
    from app.units.models import AdminUnit

    for path, body in (("02812/attributes/2020", {"commune_group": 2, "region": "tay_nguyen"}),
                       ("02812/attributes/2024", {"commune_group": 3, "region": None}),
                       ("02824/attributes/2026", {"commune_group": 1, "region": None})):
        response = await client.put(f"/api/v1/units/{path}", json=body)
        assert response.status_code in (200, 201), response.text
    async with db.transaction() as session:  # a unit without a region of its own: its predecessors' is taken
        from sqlalchemy import update
        await session.execute(update(AdminUnit).where(AdminUnit.code.in_(["02824", "02809"]),  # type: ignore[attr-defined]
                                                      AdminUnit.valid_to.is_(None)).values(region=None))  # type: ignore[union-attr]
    async with db.transaction() as session:
        ids = list((await session.execute(select(AdminUnit.id))).scalars())  # type: ignore[call-overload]
        inherited = [a for a in (await service.attributes_in_year_of(session, ids, 2026)).values()]
        assert sum(a.region == TDMNPB for a in inherited) > 2
        for year in (2019, 2021, 2026):
            bulk = await service.attributes_in_year_of(session, ids, year)
            assert bulk == {i: await service.attributes_in_year(session, i, year) for i in ids}
        assert any(a.commune_group == 3 for a in (await service.attributes_in_year_of(session, ids, 2026)).values())
