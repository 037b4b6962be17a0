"""The yardstick: a minimal FastAPI endpoint returning constant JSON, served like the service."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant() -> dict[str, object]:
    return {"unit_code": "084", "year": 2021, "average": 16.1, "target_met": True}
