"""The demo reproduces the article's plan-indicator figures (Si Ma Cai, 2020), on both databases."""

from __future__ import annotations

from tests.builders import load_demo

URL = "/api/v1/units/084/plan-indicators/2020"


async def test_demo_2020_plan_indicators_reproduce_the_article(client, db):
    await load_demo(db)
    await load_demo(db)  # idempotent: loading twice changes nothing
    r = await client.get(f"{URL}/summary")
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["by_source"] == {"hdnd": {"total": 65, "achieved": 61}, "tinh": {"total": 47, "achieved": 45}}
    assert (s["total"], s["achieved"], s["not_achieved"], s["pending"]) == (112, 106, 6, 0)
    hdnd_misses = [m for m in s["not_achieved_items"] if m["source"] == "hdnd"]
    assert len(hdnd_misses) == 4
    by_name = {m["name"]: m for m in hdnd_misses}
    standard = by_name["Số xã đạt chuẩn nông thôn mới (xã Sán Chải)"]
    assert (standard["plan"], standard["actual"]) == (1, 0)
    average = by_name["Bình quân số tiêu chí nông thôn mới/xã"]
    assert (average["plan"], average["actual"], average["percent_of_plan"]) == (15.5, 15.4, 99.6)
    schools = by_name["Số trường đạt chuẩn quốc gia trong năm"]
    assert (schools["plan"], schools["actual"], schools["percent_of_plan"]) == (2, 1, 50.0)
    poverty = by_name["Giảm tỷ lệ hộ nghèo trong năm"]
    assert poverty["plan"] == 3.5 and poverty["actual"] < 3.5

    items = {i["code"]: i for i in (await client.get(URL)).json()["indicators"]}
    linked = {i["ntm"]: i for i in items.values() if i["ntm"]}
    assert set(linked) == {"average", "standard_communes"} and linked["average"]["percent_of_plan"] == 99.6
    # labelled: the article's four say so, every other value is marked illustrative
    assert all(i["note"] and ("Minh họa" in i["note"] or "minh họa" in i["note"] or "bài viết" in i["note"])
               for i in items.values())
    audit = (await client.get("/api/v1/audit", params={"entity": "plan_indicators"})).json()["items"]
    assert [(a["action"], a["actor"]) for a in audit] == [("create", "system:demo")]
