"""Registration: who is in the campaign (persons, households, enrollments, lists, targets)."""

from __future__ import annotations

from fastapi import FastAPI

from services.registration.enrollments.router import router as enrollments
from services.registration.memberships.router import router as memberships
from services.registration.persons.router import router as persons
from services.registration.targets.router import router as targets
from shared.service import create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "registration",
        routers=[persons, enrollments, memberships, targets],
        settings=settings,
        title="Canbao registration",
    )
