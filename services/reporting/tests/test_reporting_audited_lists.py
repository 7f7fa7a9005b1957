"""Reporting's lists of people (publicity, reminders, funding applications) are in the audit
log at every read, refused ones included."""

from __future__ import annotations

from pathlib import Path

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.reporting.app import create_app
from services.reporting.tests import factories as f

LISTS = {"/v1/publicity-lists": "publicity_list.read", "/v1/reminders": "reminders.read",
         "/v1/funding-applications": "funding_applications.read"}


async def test_every_read_of_a_list_of_people_is_audited(infra: TestInfra, tmp_path: Path) -> None:
    county = f.new_county()
    village = f"{county}001001"
    with auth_enabled(tmp_path) as bearer:
        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False))
        clerk = bearer(sub="audited-clerk", role="medical_insurance_officer", region=county)
        admin = bearer(sub="audit-reader", role="administrator", region="000000")
        async with running_app(app) as client:
            for path, action in LISTS.items():
                before = await client.get(f"/v1/audit?action={action}&limit=1000",
                                          headers=admin)
                seen = {e["id"] for e in before.json()["items"]}
                ok = await client.get(f"{path}?village_code={village}&plan_year=2025",
                                      headers=clerk)
                assert ok.status_code == 200, (path, ok.text)
                elsewhere = await client.get(f"{path}?village_code=110101001001&plan_year=2025",
                                             headers=clerk)
                assert elsewhere.status_code == 403
                after = await client.get(f"/v1/audit?action={action}&limit=1000",
                                         headers=admin)
                new = [e for e in after.json()["items"] if e["id"] not in seen]
                assert sorted(e["outcome"] for e in new) == ["denied", "ok"], (path, new)
                assert {e["actor"] for e in new} == {"audited-clerk"}
