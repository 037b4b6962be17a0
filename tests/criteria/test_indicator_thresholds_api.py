"""Indicators with op and thresholds in the criteria sets (contract v1.2), on both databases."""

from __future__ import annotations


async def test_known_indicators_carry_op_and_sourced_thresholds(client):
    body = (await client.get("/api/v1/criteria-sets/2016-2020")).json()
    income = next(i for c in body["criteria"] for i in c["indicators"] if i["code"] == "10.1")
    assert income["op"] == ">=" and income["unit"] == "triệu đồng/người/năm"
    assert income["thresholds"] == [{"value": 36, "region": "trung_du_mien_nui_phia_bac", "commune_group": None,
                                     "first_year": 2020, "last_year": None, "source": "1980/QĐ-TTg"}]
    # unknown official values are left unjudged, not guessed
    later = (await client.get("/api/v1/criteria-sets/2026-2030")).json()
    assert all(i["thresholds"] == [] for c in later["criteria"] for i in c["indicators"])
