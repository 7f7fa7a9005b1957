"""Certified name lists: a department's upload becomes a new version of its list for the plan
year, applied whole or not at all; what differs from the previous version becomes membership
events. The same file twice changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.registration import events
from services.registration.common import id_numbers_in
from services.registration.lists.repository import ListRepository, ListVersion
from services.registration.persons.repository import PersonRepository
from services.registration.uploads import ParsedList, RowError, parse_certified_list
from services.registration.uploads.categories import canonical_department
from services.registration.uploads.certified import CERTIFIED_LIST_SPEC
from shared.auth import Principal
from shared.bulk import copy_events, driver_connection
from shared.errors import Forbidden, NotFound
from shared.outbox import Outbox
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

    async def _registered(self, content: bytes,
                          filename: str | None) -> tuple[dict[str, str], dict[str, uuid.UUID]]:
        """ID number -> registered name, and -> person id, for the ID numbers in the file that
        are registered (one query; each ID number hashed once)."""
        ids = id_numbers_in(content, CERTIFIED_LIST_SPEC, filename)
        by_hash = {self.vault.lookup_hash(i): i for i in ids}
        found = await self.persons.ids_and_names_by_hash(list(by_hash))
        return ({by_hash[h]: name for h, (_, name) in found.items()},
                {by_hash[h]: person_id for h, (person_id, _) in found.items()})

    async def upload(self, department: str, plan_year: int, kind: str, content: bytes,
                     filename: str | None, *, principal: Principal | None = None) -> ListResult:
        """`principal`: the uploader, refused (403 forbidden_region) when the list names
        people registered outside their region."""
        dept = department_or_404(department)
        sha256 = hashlib.sha256(content).hexdigest()
        await self.repo.lock(dept, plan_year)
        versions = await self.repo.versions(dept, plan_year)
        latest = versions[-1] if versions else None
        if latest is not None and latest.content_sha256 == sha256 and latest.kind == kind:
            return ListResult("unchanged", latest, [], sha256)
        names, person_of = await self._registered(content, filename)
        parsed: ParsedList = parse_certified_list(content, department=dept, name_of=names.get,
                                                  filename=filename)
        if parsed.errors:
            return ListResult("rejected", None, parsed.errors, sha256)
        # every row is a registered person (the parser refused the others): looked up above
        ids = {r.id_number: person_of[r.id_number] for r in parsed.rows}
        if principal is not None:
            regions = await self.persons.regions(list(set(ids.values())))
            outside = sorted(r.row_number for r in parsed.rows
                             if not principal.can_see_region(
                                 regions.get(ids[r.id_number], "")))
            if outside:
                raise Forbidden(
                    f"{len(outside)} row(s) name people registered outside your region "
                    f"{principal.region} (rows {', '.join(map(str, outside[:20]))})",
                    code="forbidden_region", details={"rows": outside[:200]})
        version_id = await self.repo.new_version(dept, plan_year, kind, sha256, filename,
                                                 len(parsed.rows))
        await self.repo.copy_entries([
            (version_id, ids[r.id_number], r.group_code, r.certified_on,
             r.ends_on, r.later_birth_on, r.row_number) for r in parsed.rows])
        await self.repo.diff(version_id, latest.id if latest else None)
        changes = await self.repo.apply_changes(dept, version_id)
        changes.sort(key=lambda c: c[1])
        counts = {"added": 0, "changed": 0, "removed": 0}
        out = []
        topic = events.TOPIC_OF[events.MEMBERSHIP_ADDED]
        for change, revision in changes:
            counts[change.kind] += 1
            event_type = events.MEMBERSHIP_REMOVED if change.kind == "removed" else events.MEMBERSHIP_ADDED
            person = str(change.person_id)
            out.append((topic, event_type, events.membership_payload(person, change, revision),
                        person))
        await copy_events(await driver_connection(self.session), self.outbox, out)
        await self.repo.set_counts(version_id, counts["added"], counts["removed"], counts["changed"])
        version = (await self.repo.versions(dept, plan_year))[-1]
        return ListResult("applied", version, [], sha256)
