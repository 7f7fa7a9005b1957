"""Certified name lists: a department's upload becomes a new version of its list for one region
and plan year, applied whole or not at all; what differs from that region's previous version
becomes membership events, for people of the region only. The same file twice, or the same
list in another file (a downloaded list sent back), changes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.registration import events
from services.registration.lists.download import CertifiedEntry
from services.registration.lists.repository import ListRepository, ListVersion
from services.registration.persons.repository import PersonRepository
from services.registration.scopes import people_in_file
from services.registration.uploads import ParsedList, RowError, parse_certified_list
from services.registration.uploads.categories import (
    DEPARTMENTS,
    GROUP_NAMES,
    canonical_department,
)
from services.registration.uploads.certified import CERTIFIED_LIST_SPEC
from services.registration.uploads.certifiers import anywhere, certifiable_in
from shared.auth import NATIONAL, region_prefix
from shared.bulk import driver_connection
from shared.errors import NotFound
from shared.outbox import Outbox, Payload
from shared.pii import PiiVault


@dataclass
class ListResult:
    status: str  # applied | unchanged
    version: ListVersion | None
    errors: list[RowError]
    content_sha256: str


def department_or_404(department: str) -> str:
    try:
        return canonical_department(department)
    except ValueError as exc:
        raise NotFound(str(exc), code="unknown_department") from None


class ListService:
    def __init__(self, session: AsyncSession, outbox: Outbox, vault: PiiVault) -> None:
        self.session = session
        self.outbox = outbox
        self.vault = vault
        self.repo = ListRepository(session)
        self.persons = PersonRepository(session)

    async def upload(self, department: str, plan_year: int, kind: str, content: bytes,
                     filename: str | None, *, region: str = NATIONAL,
                     uploaded_by: str | None = None) -> ListResult:
        """The department's list for `region` (the uploader's region, see scopes.upload_region)
        and the plan year. Rows naming people registered outside `region` refuse the whole
        file (`forbidden_region` reasons, nothing applied); people of other regions are never
        added, changed or removed."""
        dept = department_or_404(department)
        sha256 = hashlib.sha256(content).hexdigest()
        await self.repo.lock(dept, region, plan_year)
        versions = await self.repo.versions(dept, region, plan_year)
        latest = versions[-1] if versions else None
        if latest is not None and latest.content_sha256 == sha256 and latest.kind == kind:
            return ListResult("unchanged", latest, [], sha256)
        people = await people_in_file(self.session, self.vault, content, CERTIFIED_LIST_SPEC,
                                      filename, region)
        # which department certifies which group is per region: each row against the region
        # its person is registered in (a province's upload may span counties that differ)
        parsed: ParsedList = parse_certified_list(
            content, department=dept, name_of=people.name_of, filename=filename,
            certifiable=anywhere(dept))
        errors = people.screen(parsed.errors + [
            RowError(r.row_number, "类别", GROUP_NAMES[r.group_code],
                     f"{DEPARTMENTS[dept]}在本地区不能认定“{GROUP_NAMES[r.group_code]}”",
                     "category_not_allowed")
            for r in parsed.rows
            if r.group_code not in certifiable_in(people.region_of(r.id_number), dept)])
        if errors:
            return ListResult("rejected", None, errors, sha256)
        # every row is a registered person of the region (the parser refused the others)
        ids = {r.id_number: people.person_id_of(r.id_number) for r in parsed.rows}
        if latest is not None and latest.kind == kind and await self.repo.entry_keys(
                latest.id) == {(ids[r.id_number], r.group_code, r.certified_on, r.ends_on,
                                r.later_birth_on, r.disability_grade) for r in parsed.rows}:
            # the same list in another file (a downloaded list sent back unchanged)
            return ListResult("unchanged", latest, [], sha256)
        version_id = await self.repo.new_version(dept, region, plan_year, kind, sha256, filename,
                                                 len(parsed.rows), uploaded_by)
        await self.repo.copy_entries([
            (version_id, ids[r.id_number], r.group_code, r.certified_on,
             r.ends_on, r.later_birth_on, r.row_number, r.disability_grade)
            for r in parsed.rows])
        await self.repo.diff(version_id, latest.id if latest else None, department=dept,
                             region=region, plan_year=plan_year,
                             region_prefix=region_prefix(region) or "")
        changes = await self.repo.apply_changes(dept, version_id)
        changes.sort(key=lambda c: c[1])
        counts = {"added": 0, "changed": 0, "removed": 0}
        out: list[Payload] = []
        for change, revision in changes:
            counts[change.kind] += 1
            person = str(change.person_id)
            event = (events.GroupMembershipRemoved if change.kind == "removed"
                     else events.GroupMembershipAdded)
            out.append((event, events.membership_payload(person, change, revision), person))
        await self.outbox.copy(await driver_connection(self.session), out)
        await self.repo.set_counts(version_id, counts["added"], counts["removed"], counts["changed"])
        version = (await self.repo.versions(dept, region, plan_year))[-1]
        return ListResult("applied", version, [], sha256)

    async def current(self, department: str, region: str,
                      plan_year: int) -> tuple[ListVersion | None, list[CertifiedEntry]]:
        """The department's current list for the region and year, as it would be uploaded."""
        dept = department_or_404(department)
        versions = await self.repo.versions(dept, region, plan_year)
        if not versions:
            return None, []
        rows = await self.repo.current_entries(versions[-1].id)
        return versions[-1], [
            CertifiedEntry(id_number=self.vault.decrypt(enc), name=name, group_code=group,
                           certified_on=c, ends_on=e, later_birth_on=lb,
                           disability_grade=grade)
            for enc, name, group, c, e, lb, grade in rows]
