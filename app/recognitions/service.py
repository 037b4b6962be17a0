"""Recognitions of communes: one per commune and level."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.service import resolve_commune
from app.core.types import utcnow
from app.recognitions.models import Recognition, RecognitionLevel, RecognitionPublic, RecognitionPut


async def put(session: AsyncSession, *, code: str, level: RecognitionLevel, data: RecognitionPut) -> tuple[Recognition, bool]:
    """Record the recognition of the commune that had ``code`` in the recognition year."""
    commune = await resolve_commune(session, code, data.recognition_year)
    existing = (
        await session.execute(
            select(Recognition).where(Recognition.unit_id == commune.id, Recognition.level == level.value)
        )
    ).scalars().first()
    if existing is None:
        existing = Recognition(unit_id=commune.id, commune_code=code, level=level.value,  # type: ignore[arg-type]
                               updated_at=utcnow(), **data.model_dump())
        session.add(existing)
        await session.flush()
        return existing, True
    for key, value in data.model_dump().items():
        setattr(existing, key, value)
    existing.updated_at = utcnow()
    await session.flush()
    return existing, False


async def list_for(session: AsyncSession, code: str) -> list[RecognitionPublic]:
    rows = await session.execute(
        select(Recognition).where(Recognition.commune_code == code).order_by(Recognition.recognition_year, Recognition.level)
    )
    return [to_public(r) for r in rows.scalars()]


def to_public(r: Recognition) -> RecognitionPublic:
    return RecognitionPublic(
        commune_code=r.commune_code,
        level=RecognitionLevel(r.level),
        recognition_year=r.recognition_year,
        decision_no=r.decision_no,
        decision_date=r.decision_date,
        updated_at=r.updated_at,
    )
