from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.registration import EnrollmentPayload
from services.registration import events
from services.registration.enrollments.bounds import (
    check_birth_before_year_end,
    check_plan_year,
    check_registered_on,
)
from services.registration.enrollments.repository import EnrollmentRepository, EnrollmentRow
from services.registration.enrollments.schemas import EnrollmentCreate, EnrollmentStop
from services.registration.enrollments.scope import ScopeFacts, check_scope
from services.registration.persons.repository import PersonRepository
from shared.bulk import driver_connection
from shared.errors import Conflict, DomainError, NotFound
from shared.outbox import Outbox


class OutOfScope(DomainError):
    status_code = 422
    code = "out_of_scope"


def default_category(birth_date: dt.date, plan_year: int, has_school: bool) -> str:
    if has_school:
        return "student"
    jan1 = dt.date(plan_year, 1, 1)
    age = jan1.year - birth_date.year - ((jan1.month, jan1.day) < (birth_date.month, birth_date.day))
    return "minor" if age < 18 else "adult"


class EnrollmentService:
    def __init__(self, session: AsyncSession, outbox: Outbox,
                 known_years: Collection[int] = ()) -> None:
        self.session = session
        self.outbox = outbox
        self.known_years = known_years  # plan years eligibility published a plan for
        self.repo = EnrollmentRepository(session)
        self.persons = PersonRepository(session)

    async def enroll(self, data: EnrollmentCreate, today: dt.date | None = None) -> EnrollmentRow:
        """422 naming the field for a plan year without a plan and far from today, a
        registration day in the future or years before the plan year, and a person born after
        the plan year."""
        check_plan_year(data.plan_year, known=self.known_years, today=today)
        check_registered_on(data.registered_on, data.plan_year, today=today)
        person = await self.persons.get(data.person_id, for_update=True)
        if person is None:
            raise NotFound("no such person", code="person_not_found")
        check_birth_before_year_end(person.birth_date, data.plan_year, field="plan_year")
        existing = await self.repo.get(data.person_id, data.plan_year)
        if existing is not None and existing.status == "registered":
            raise Conflict(f"already enrolled for {data.plan_year}", code="already_enrolled",
                           params={"plan_year": data.plan_year})
        category = data.insured_category or default_category(
            person.birth_date, data.plan_year, has_school=person.school is not None)
        refusal = check_scope(ScopeFacts(
            county_code=person.county_code, hukou_region_code=person.hukou_region_code,
            residence_permit=person.residence_permit, category=category,
            in_employee_scheme=await self.repo.in_employee_scheme(person.id),
            parent_has_residence_permit=(category == "minor" and not person.residence_permit
                                         and await self.repo.parent_has_residence_permit(person.id)),
        ))
        if refusal is not None:
            raise OutOfScope(refusal.message, code=refusal.code, params=refusal.params)
        enrollment = EnrollmentRow(
            person_id=person.id, plan_year=data.plan_year, status="registered", reason=None,
            insured_category=category, county_code=person.county_code,
            township_code=person.township_code, village_code=person.village_code,
            registered_on=data.registered_on or today or dt.date.today(),
            revision=(existing.revision + 1) if existing else 1,
        )
        if existing is None:
            await self.repo.insert(enrollment)
            event_type: type[EnrollmentPayload] = events.EnrollmentRegistered
        else:
            await self.repo.update_status(enrollment)
            event_type = events.EnrollmentChanged
        await self._publish(event_type, enrollment)
        return enrollment

    async def stop(self, person_id: uuid.UUID, plan_year: int, data: EnrollmentStop) -> EnrollmentRow:
        enrollment = await self.repo.get(person_id, plan_year)
        if enrollment is None:
            raise NotFound("no such enrollment", code="enrollment_not_found")
        if enrollment.status == "ended":
            raise Conflict("the enrollment has ended", code="enrollment_ended")
        enrollment.status, enrollment.reason = data.status, data.reason
        enrollment.revision += 1
        await self.repo.update_status(enrollment)
        await self._publish(events.EnrollmentChanged, enrollment)
        return enrollment

    async def get(self, person_id: uuid.UUID, plan_year: int) -> EnrollmentRow:
        enrollment = await self.repo.get(person_id, plan_year)
        if enrollment is None:
            raise NotFound("no such enrollment", code="enrollment_not_found")
        return enrollment

    async def rollover(self, from_year: int, to_year: int, county: str | None,
                       today: dt.date | None = None) -> int:
        """Last year's registered enrollees into the new plan year, in bulk, with their
        enrollment_registered events; running it again adds only who is still missing."""
        if to_year <= from_year:
            raise DomainError("--to must be after --from", code="invalid_years", status_code=422)
        check_plan_year(to_year, known=self.known_years, field="to_year")
        check_registered_on(today, to_year)  # `today`: the registration day asked for
        rolled = await self.repo.rollover(from_year, to_year, county, today or dt.date.today())
        await self.outbox.copy(await driver_connection(self.session), (
            (events.EnrollmentRegistered, events.enrollment_payload(e), str(e.person_id))
            for e in rolled))
        return len(rolled)

    async def _publish(self, event_type: type[EnrollmentPayload], e: EnrollmentRow) -> None:
        await self.outbox.add(self.session, events.enrollment_event(event_type, e),
                              subject=str(e.person_id))
