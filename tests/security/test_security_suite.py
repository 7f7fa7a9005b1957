"""The attacks of issue #12 tried on every route of the four services, as their OpenAPI documents
list them, with tokens on: omitted and explicit region parameters, files naming people
elsewhere, masked ID numbers next to birth dates, formula prefixes in exports, lookalike digits
in ID numbers, bidi and control characters, cookie writes from a foreign Origin, malformed
headers, cursors, dates, integers and workbooks, and forged tokens.

Two counties are seeded through the services' own APIs (A: Tengzhou, two townships; B: Pingyin)
and their events handed to the consumers' handlers (tests/security/world.py). Each test tries
one class of attack everywhere and lists every route where it got through."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import Any

import httpx

from shared.auth import SESSION_COOKIE, TOKEN_COOKIE
from shared.idnumber import mask_name
from shared.principals import Principal
from tests.security.checks import (
    BIDI,
    LOOKALIKES,
    answer_text,
    birth_date_shown,
    broken_workbooks,
    candidates,
    carries_formula_text,
    error_body_problem,
    forged_tokens,
    formula_problems,
    masked_ids,
    matches,
)
from tests.security.routes import (
    ID_PARAMS,
    NAMED,
    REGION_FIELDS,
    WRITE_METHODS,
    Call,
    Route,
    Side,
    call_for,
    field_schemas,
    is_date,
    resolve,
    routes,
    set_field,
    walk_fields,
)
from tests.security.uploads import RECIPES, TOWNSHIP_NAMES, rows_for, variants
from tests.security.world import (
    CHANNELS,
    FORMULAS,
    SERVICES,
    World,
    csv_bytes,
    new_id_number,
    signed,
    webhook_body,
)

FOREIGN = "https://evil.example"
# Read-only POSTs whose body names a region only to pick a public document: a preview computes
# on a plan (readable from any region: GET /v1/plans/{region_code}/{plan_year} has no region
# rule) and on facts the caller types in; it reads no stored person.
PUBLIC_DOCUMENT_BODIES = {"eligibility POST /v1/determinations/preview": ("region_code",)}


def all_routes(world: World) -> list[Route]:
    return [r for s in SERVICES for r in routes(s, world.apps[s])]


def guarded(world: World) -> list[Route]:
    return [r for r in all_routes(world) if not r.public and r.rule is not None]


async def send(world: World, call: Call, headers: dict[str, Any]) -> httpx.Response:
    return await world.clients[call.route.service].request(
        call.route.method, call.url, headers=headers, **call.kwargs())


def pick_role(route: Route) -> str:
    roles = route.roles()
    return "medical_insurance_officer" if "medical_insurance_officer" in roles else \
        "administrator"


def export_formats(route: Route) -> list[str]:
    p = route.param("format")
    if p is None:
        return []
    return [f for f in resolve(route.document, p.get("schema", {})).get("enum", [])
            if f in ("csv", "xlsx")]


def with_upload(route: Route, call: Call, caller: Side, target: Side) -> list[Call]:
    """The call with a file naming `target`, one per recipe of the route."""
    found = []
    enums = {p["name"]: resolve(route.document, p.get("schema", {})).get("enum", [])
             for p in route.parameters if p["in"] == "path"}
    for key, path_values in variants(route.method, route.path, enums):
        recipe = RECIPES.get(key)
        if recipe is None:
            continue
        c = call.copy()
        c.path_values.update(path_values)
        c.form.update(recipe.form(caller))
        c.file = ("upload.csv", csv_bytes(rows_for(recipe, target)))
        found.append(c)
    return found


def missing_recipes(world: World) -> list[str]:
    missing = []
    for route in all_routes(world):
        if not route.is_upload:
            continue
        enums = {p["name"]: resolve(route.document, p.get("schema", {})).get("enum", [])
                 for p in route.parameters if p["in"] == "path"}
        for key, _ in variants(route.method, route.path, enums):
            if key not in RECIPES:
                missing.append(key)
    return missing


def second_township(world: World) -> Side:
    """County A's second township, as the side a township clerk of the first must not reach."""
    a, p = world.a, world.a_people[1]
    return replace(a, label="A2", township=a.other_township, village=a.other_village,
                   person_id=p["person_id"], household_id=p["household_id"],
                   id_number=p["id_number"], name=p["name"], birth_date=p["birth_date"])


def elsewhere(world: World, role: str) -> list[Side]:
    """Where a caller of county A (township staff: of its first township) must not reach:
    county B, B's bank's unmatched money, and for township staff the second township."""
    unmatched = replace(world.b, label="B-unmatched-money",
                        suspense_id=world.b.unmatched_suspense_id)
    return [world.b, unmatched, *([second_township(world)] if role == "township_staff" else [])]


def report(failures: list[str], what: str, shown: int = 80) -> None:
    more = f"\n  ... and {len(failures) - shown} more" if len(failures) > shown else ""
    assert not failures, f"{len(failures)} {what}:\n  " + "\n  ".join(failures[:shown]) + more


# --- region ----------------------------------------------------------------------------------

async def test_omitted_region_parameters_never_read_another_county(world: World) -> None:
    """Every GET route, every role it allows, a caller of each county, the region parameters
    left out (and, for exports, every format): no id or code of the other county's rows."""
    failures, own_seen = [], set()
    for route in guarded(world):
        if route.method != "GET":
            continue
        for side in (world.a, world.b):
            other = world.other(side)
            theirs = world.markers(other) | {TOWNSHIP_NAMES[other.township]}
            mine = world.markers(side) - {f"sec{side.label}-"}
            for role in route.roles():
                forbidden = theirs
                if role == "township_staff" and side.label == "A" and route.region_params:
                    # nor the county's other township
                    forbidden = theirs | _township_markers(world, second_township(world))
                for fmt in [None, *export_formats(route)]:
                    call = call_for(route, side, omit_regions=True)
                    if fmt:
                        call.query["format"] = fmt
                    r = await send(world, call, world.caller(role, side))
                    text = answer_text(r)
                    leaked = sorted(m for m in forbidden if m in text)
                    if leaked:
                        failures.append(f"{route.label} ({fmt or 'json'}) as {role} of "
                                        f"{side.county}: {r.status_code}, carries "
                                        f"{other.county}'s {leaked[:3]}")
                    if any(m in text for m in mine):
                        own_seen.add(route.label)
    assert len(own_seen) >= 8, f"the seeded rows were found by too few routes: {own_seen}"
    report(failures, "reads of another county's rows with the region left out")


def _township_markers(world: World, township: Side) -> set[str]:
    people = [p for p in world.a_people if p["person_id"] == township.person_id]
    return {township.township, township.village, TOWNSHIP_NAMES[township.township]} | \
        {p["person_id"] for p in people} | {p["household_id"] for p in people}


def region_swaps(route: Route, call: Call, target: Side) -> list[tuple[str, Call]]:
    """The call with what names a region or a person replaced by the target's: the region
    parameters of the path, of the query, the body's region fields (each group at once, so
    that they stay consistent), each id of the path and of the body."""
    swaps: list[tuple[str, Call]] = []
    for where in ("path", "query"):
        names = [p["name"] for p in route.parameters
                 if p["in"] == where and p["name"] in route.region_params]
        if names:
            c = call.copy()
            values = c.path_values if where == "path" else c.query
            for n in names:
                values[n] = NAMED[n](target)
            swaps.append((f"{where} {'+'.join(names)}", c))
    for p in route.parameters:
        if p["in"] == "path" and p["name"] in ID_PARAMS:
            c = call.copy()
            c.path_values[p["name"]] = NAMED[p["name"]](target)
            swaps.append((f"path {p['name']}", c))
    if call.json is not None:
        fields = [path for path, _ in walk_fields(call.json) if isinstance(path[-1], str)]
        exempt = PUBLIC_DOCUMENT_BODIES.get(route.label, ())
        regions = [f for f in fields if f[-1] in REGION_FIELDS and f[-1] not in exempt]
        if regions:
            c = call.copy()
            for f in regions:
                c.json = set_field(c.json, f, NAMED[f[-1]](target))
            swaps.append(("body " + "+".join(str(f[-1]) for f in regions), c))
        for f in fields:
            if f[-1] in ("person_id", "household_id"):
                c = call.copy()
                c.json = set_field(c.json, f, NAMED[f[-1]](target))
                swaps.append((f"body {f[-1]}", c))
    if route.is_upload:
        names = [n for n in call.form if n in REGION_FIELDS]
        if names:
            c = call.copy()
            for n in names:
                c.form[n] = NAMED[n](target)
            swaps.append(("form " + "+".join(names), c))
    return [(what, c) for what, c in swaps
            if (c.url, c.query, c.json, c.form) != (call.url, call.query, call.json, call.form)]


async def test_explicit_codes_and_ids_outside_the_region_are_refused(world: World) -> None:
    """Every route that takes a region code or a person, household or report id: a caller of
    county A (township staff: of its first township) naming county B (and the second
    township) answers 403 or 404."""
    failures, tried = [], 0
    for route in guarded(world):
        if not route.region_params:
            continue  # public division data (regions=False)
        for role in route.roles():
            base = call_for(route, world.a, optional=True)
            calls = with_upload(route, base, world.a, world.a) if route.is_upload else [base]
            for call in calls:
                for target in elsewhere(world, role):
                    for what, swapped in region_swaps(route, call, target):
                        if target.label == "B-unmatched-money" and "suspense_id" not in what:
                            continue
                        r = await send(world, swapped, world.caller(role, world.a))
                        tried += 1
                        problem = error_body_problem(r)
                        if r.status_code not in (403, 404) or problem:
                            failures.append(f"{route.label} as {role} of {world.a.county}, "
                                            f"{what} of {target.label} ({swapped.url}): "
                                            f"{r.status_code} {r.text[:120]!r}")
    assert tried > 50
    report(failures, "out-of-region codes or ids not refused")


# --- uploads ---------------------------------------------------------------------------------

async def test_uploads_naming_people_elsewhere_change_nothing(world: World) -> None:
    """Every upload route (every recipe), every role it allows, a caller of county A (township
    staff: of its first township) sending a file that names a person or region of county B
    (and of the second township): refused, and registration's state is as before."""
    failures = [f"no recipe for the upload route {k} in tests/security/uploads.py"
                for k in missing_recipes(world)]
    tried = 0
    for route in guarded(world):
        if not route.is_upload:
            continue
        for role in route.roles():
            for target in elsewhere(world, role):
                if target.label == "B-unmatched-money":
                    continue
                base = call_for(route, world.a, optional=True)
                # the person as registered, and under a wrong name (a name check must not
                # tell the uploader the name registered elsewhere)
                for named in (target, replace(target, name="错名字")):
                    for call in with_upload(route, base, world.a, named):
                        if named is not target and named.name not in call.file[1].decode():
                            continue  # the file names a region, not a person
                        headers = world.caller(role, world.a)
                        before = await world.snapshot()
                        r = await send(world, call, headers)
                        after = await world.snapshot()
                        tried += 1
                        changed = sorted(t for t in before if before[t] != after.get(t))
                        told = await _names_told(world, r, headers, target)
                        if r.status_code < 400 or changed or error_body_problem(r) or told:
                            failures.append(f"{route.label} {call.url} as {role} of "
                                            f"{world.a.county}, file naming {target.label}"
                                            f"{' (wrong name)' if named is not target else ''}"
                                            f": {r.status_code}, tables changed {changed}, "
                                            f"tells {told} {r.text[:100]!r}")
    assert tried >= 8
    report(failures, "uploads that reached people or regions elsewhere")


async def _names_told(world: World, r: httpx.Response, headers: dict[str, str],
                      target: Side) -> list[str]:
    """What the answer to an upload (and the error report it names) tells of the person
    registered elsewhere: the name, masked or not."""
    texts = [r.text]
    try:
        report_id = r.json().get("error", {}).get("error_report_id")
    except (ValueError, AttributeError):
        report_id = None
    if report_id:
        texts.append((await world.clients["registration"].get(
            f"/v1/lists/error-reports/{report_id}", headers=headers)).text)
    names = {target.name, mask_name(target.name)}
    return sorted({n for n in names for t in texts if n in t})


# --- masked ID numbers -----------------------------------------------------------------------

async def test_masked_ids_and_birth_dates_never_rebuild_the_number(world: World) -> None:
    """Every GET route (every export format) a role denied the full-ID route may call: wherever
    a seeded person's masked ID number appears, at least 10 numbers fit it together with the
    check character, the region and whatever birth date and sex the same answer shows."""
    full = world.apps["registration"].state.access_control.rules[
        ("GET", "/v1/persons/{person_id}/id-number")].roles
    people = world.a_people + world.b_people
    failures: list[str] = []
    for route in guarded(world):
        if route.method != "GET":
            continue
        for role in sorted(set(route.roles()) - set(full)):
            for fmt in [None, *export_formats(route)]:
                call = call_for(route, world.a, optional=True)
                if fmt:
                    call.query["format"] = fmt
                for p in route.parameters:
                    if resolve(route.document, p.get("schema", {})).get("type") == "boolean":
                        call.query[p["name"]] = "true"
                r = await send(world, call, world.caller(role, world.a))
                text = answer_text(r)
                sex = "sex" in text or "性别" in text
                for mask in set(masked_ids(text)):
                    for person in people:
                        if not matches(mask, person["id_number"]):
                            continue
                        born = dt.date.fromisoformat(person["birth_date"])
                        shown = birth_date_shown(text, born)
                        n = candidates(mask, person["id_number"], birth_known=shown,
                                       sex_known=sex)
                        if n < 10:
                            failures.append(f"{route.label} ({fmt or 'json'}) as {role}: "
                                            f"{mask} with birth date "
                                            f"{'shown' if shown else 'hidden'} leaves {n} "
                                            f"candidate number(s)")
    report(failures, "answers from which a full ID number can be rebuilt")


# --- exports ---------------------------------------------------------------------------------

async def test_exports_never_carry_a_formula(world: World) -> None:
    """Every route with a CSV or XLSX format, with people named `=HYPERLINK(...)`, `+1`, `-1`,
    `@SUM(A1)` and a reason note and an upload error report of the same: no XLSX cell is a
    formula and no cell starts with = + - @."""
    failures, carrying = [], []
    for route in guarded(world):
        for fmt in export_formats(route):
            role = pick_role(route)
            call = call_for(route, world.a, optional=True)
            call.query["format"] = fmt
            for p in route.parameters:
                if resolve(route.document, p.get("schema", {})).get("type") == "boolean":
                    call.query[p["name"]] = "true"
            r = await send(world, call, world.caller(role, world.a))
            if r.status_code != 200:
                failures.append(f"{route.label} ({fmt}) as {role}: not downloaded, "
                                f"{r.status_code} {r.text[:120]!r}")
                continue
            if carries_formula_text(r, FORMULAS):
                carrying.append(f"{route.label} ({fmt})")
            failures += [f"{route.label} ({fmt}): {p}" for p in formula_problems(r)[:3]]
    # error reports, publicity lists, reminders, funding applications: each in CSV and XLSX
    assert len(carrying) >= 8, f"too few exports carry the seeded formulas: {carrying}"
    report(failures, "formula cells in exports")


# --- ID numbers and text ---------------------------------------------------------------------

def _person_ids(r: httpx.Response) -> set[str]:
    try:
        value = r.json()
    except ValueError:
        return set()
    return {str(v) for path, v in walk_fields(value) if path and path[-1] == "person_id"}


async def test_lookalike_digits_in_id_numbers_never_make_a_second_person(world: World) -> None:
    """Every route with an ID number in its body or its file: the number of county A's person
    written in Devanagari, fullwidth or mixed digits is refused (422) or answered as for the
    ASCII number (the same person), and registration holds no more people than before."""
    failures, tried = [], 0
    for route in guarded(world):
        if route.method not in WRITE_METHODS:
            continue
        role = pick_role(route)
        headers = world.caller(role, world.a)
        base = call_for(route, world.a, optional=True)
        if route.is_upload:
            for call in with_upload(route, base, world.a, world.a):
                text = call.file[1].decode()
                if world.a.id_number not in text:
                    continue
                for kind, convert in LOOKALIKES.items():
                    c = call.copy()
                    c.file = ("upload.csv", text.replace(world.a.id_number,
                                                         convert(world.a.id_number)).encode())
                    before = await world.count_persons()
                    r = await send(world, c, headers)
                    tried += 1
                    if await world.count_persons() != before or error_body_problem(r):
                        failures.append(f"{route.label} {c.url} ({kind} digits in the file): "
                                        f"{r.status_code}, persons {before} -> "
                                        f"{await world.count_persons()}")
            continue
        if base.json is None:
            continue
        id_fields = [f for f, _ in walk_fields(base.json)
                     if isinstance(f[-1], str) and "id_number" in f[-1]]
        for f in id_fields:
            plain = await send(world, base, headers)
            for kind, convert in LOOKALIKES.items():
                c = base.copy()
                c.json = set_field(c.json, f, convert(world.a.id_number))
                before = await world.count_persons()
                r = await send(world, c, headers)
                tried += 1
                grew = await world.count_persons() - before
                same = r.status_code == plain.status_code and (
                    r.status_code >= 400 or _person_ids(r) == _person_ids(plain))
                if grew or error_body_problem(r) or not (r.status_code == 422 or same):
                    failures.append(f"{route.label} {f[-1]} in {kind} digits: "
                                    f"{r.status_code} (ASCII: {plain.status_code}), "
                                    f"{grew} more person(s) {r.text[:120]!r}")
    assert tried >= 5
    report(failures, "lookalike ID numbers not refused nor normalised")


async def test_bidi_and_control_characters_in_text_are_refused(world: World) -> None:
    """Every free-text field (a string without enum, format or pattern) of every JSON body, and
    the name in every upload that carries names: with U+202E, U+2067 or U+200F inside, the
    answer is 422 and registration's state is unchanged."""
    failures, tried = [], 0
    for route in guarded(world):
        if route.method not in WRITE_METHODS:
            continue
        role = pick_role(route)
        headers = world.caller(role, world.a)
        base = call_for(route, world.a, optional=True)
        if route.is_upload:
            for call in with_upload(route, base, world.a, world.a):
                text = call.file[1].decode()
                if world.a.name not in text:
                    continue
                for char in BIDI:
                    c = call.copy()
                    c.file = ("upload.csv", text.replace(
                        world.a.name, world.a.name[0] + char + world.a.name[1:]).encode())
                    before = await world.snapshot()
                    r = await send(world, c, headers)
                    tried += 1
                    changed = sorted(t for t, v in (await world.snapshot()).items()
                                     if before.get(t) != v)
                    if r.status_code not in (403, 422) or changed or error_body_problem(r):
                        failures.append(f"{route.label} {c.url} (U+{ord(char):04X} in a name "
                                        f"of the file): {r.status_code}, changed {changed}")
            continue
        for path, schema in field_schemas(route.body_schema, route.document):
            constrained = {"enum", "format", "pattern", "const"} & set(schema)
            if schema.get("type") != "string" or constrained:
                continue
            if isinstance(path[-1], str) and (path[-1] in REGION_FIELDS or "id_number" in path[-1]):
                continue  # codes and ID numbers: refused by their own format
            for char in BIDI:
                body = base.json if base.json is not None else {}
                if isinstance(body, dict) and "id_number" in body:  # a new person, not a 409
                    born = dt.date(1950, 1, 1) + dt.timedelta(days=secrets.randbelow(20_000))
                    body = {**body, "id_number": new_id_number(world.a.county, born)}
                c = base.copy()
                try:
                    c.json = set_field(body, path, "甲" + char + "乙")
                except (KeyError, IndexError, TypeError):
                    continue
                r = await send(world, c, headers)
                tried += 1
                if r.status_code != 422 or error_body_problem(r):
                    failures.append(f"{route.label} field {'.'.join(map(str, path))} with "
                                    f"U+{ord(char):04X}: {r.status_code} {r.text[:100]!r}")
    assert tried >= 10
    report(failures, "texts with bidi or control characters accepted")


# --- cookies ---------------------------------------------------------------------------------

async def test_cookie_writes_from_a_foreign_origin_are_refused(world: World) -> None:
    """Every write route, authenticated by the session cookie or by the token cookie: with a
    foreign Origin, with only a foreign Referer, and with neither, 403 forbidden_origin."""
    principal = Principal(subject="secA-cookie", kind="staff", role="administrator",
                          region=world.a.county)
    session = world.tokens.signer.session_value(principal)
    token = world.caller("administrator", world.a)["authorization"].split(" ", 1)[1]
    cookies = {"session cookie": f"{SESSION_COOKIE}={session}",
               "token cookie": f"{TOKEN_COOKIE}={token}"}
    origins = {"foreign Origin": {"origin": FOREIGN},
               "foreign Referer": {"referer": f"{FOREIGN}/page"},
               "no Origin nor Referer": {}}
    failures, tried = [], 0
    for route in guarded(world):
        if route.method not in WRITE_METHODS:
            continue
        base = call_for(route, world.a, optional=True)
        calls = with_upload(route, base, world.a, world.a)[:1] if route.is_upload else [base]
        for call in calls:
            for how, cookie in cookies.items():
                for what, extra in origins.items():
                    r = await send(world, call, {"cookie": cookie, **extra})
                    tried += 1
                    if r.status_code != 403 or error_body_problem(r) or \
                            r.json()["error"]["code"] != "forbidden_origin":
                        failures.append(f"{route.label} by {how}, {what}: {r.status_code} "
                                        f"{r.text[:100]!r}")
    # the cookies do authenticate: from our own origin a read-only POST gets through
    own = await world.clients["registration"].post(
        "/v1/persons/lookup", json={"id_number": world.a.id_number},
        headers={"cookie": cookies["session cookie"], "origin": "http://test"})
    assert own.status_code == 200, own.text
    assert tried >= 30
    report(failures, "cookie-authenticated writes not refused for their origin")


# --- malformed input -------------------------------------------------------------------------

async def test_a_non_utf8_correlation_id_never_answers_5xx(world: World) -> None:
    """Every route, public ones included, with and without a token."""
    failures = []
    for route in all_routes(world):
        call = call_for(route, world.a, optional=True)
        if route.is_upload:
            call = (with_upload(route, call, world.a, world.a) or [call])[0]
        problems = []
        for auth in ({}, world.caller(pick_role(route), world.a)):
            for value in (b"\xff\xfe\xfd", b"caf\xe9", b"\xc3\x28"):
                r = await send(world, call, {"x-correlation-id": value, **auth})
                if problem := error_body_problem(r):
                    problems.append(f"{value!r}{' with a token' if auth else ''}: {problem}")
        if problems:
            failures.append(f"{route.label}: {len(problems)} of 6, e.g. {problems[0]}")
    report(failures, "answers to a non-UTF-8 X-Correlation-ID")


CURSORS = ("not-a-cursor", "!!!", "eyJ4IjogMX0", "AAAA", "e30", "%00%ff", "A" * 3000,
           "eyJpZCI6ICIxJyBPUiAxPTEtLSJ9", "-1", "9" * 40)


async def test_malformed_cursors_are_refused_with_the_error_body(world: World) -> None:
    """Every route with a `cursor` parameter: a malformed cursor answers 4xx with the error
    body."""
    failures, tried = [], 0
    for route in guarded(world):
        if route.param("cursor") is None:
            continue
        for cursor in CURSORS:
            call = call_for(route, world.a, optional=True)
            call.query["cursor"] = cursor
            r = await send(world, call, world.caller(pick_role(route), world.a))
            tried += 1
            if not 400 <= r.status_code < 500 or error_body_problem(r):
                failures.append(f"{route.label} cursor={cursor[:20]!r}: {r.status_code} "
                                f"{r.text[:100]!r}")
    assert tried >= 20
    report(failures, "malformed cursors not refused")


def _typed_targets(route: Route, call: Call, wanted: str) -> list[tuple[str, str, Any]]:
    """(where, label, key) of every parameter and body or form field of a kind, 'date' or
    'integer'; key is the parameter's name or the field's path."""
    def fits(name: str, schema: dict[str, Any]) -> bool:
        options = [schema, *schema.get("anyOf", [])]
        if wanted == "date":
            return any(o.get("format") == "date" for o in options) or \
                (is_date(name, schema) and any(o.get("type") == "string" for o in options))
        return any(o.get("type") == "integer" for o in options)

    found: list[tuple[str, str, Any]] = []
    for p in route.parameters:
        if fits(p["name"], p.get("schema", {})):
            found.append((p["in"], p["name"], p["name"]))
    if route.body_schema is not None:
        for path, schema in field_schemas(route.body_schema, route.document):
            name = path[-1] if isinstance(path[-1], str) else ""
            if fits(name, schema):
                found.append(("form" if route.is_upload else "body", ".".join(map(str, path)),
                              path))
    return found


def _with_value(call: Call, where: str, key: Any, value: Any) -> Call:
    c = call.copy()
    if where == "path":
        c.path_values[key] = value
    elif where == "query":
        c.query[key] = value
    elif where == "form":
        c.form[key[-1]] = value
    else:
        c.json = set_field(c.json if c.json is not None else {}, key, value)
    return c


async def _extreme(world: World, wanted: str, values: tuple[Any, ...]) -> tuple[list[str], int]:
    failures, tried = [], 0
    for route in guarded(world):
        base = call_for(route, world.a, optional=True)
        if route.is_upload:
            base = (with_upload(route, base, world.a, world.a) or [base])[0]
        for where, label, key in _typed_targets(route, base, wanted):
            for value in values:
                try:
                    c = _with_value(base, where, key, value)
                except (KeyError, IndexError, TypeError):
                    continue
                r = await send(world, c, world.caller(pick_role(route), world.a))
                tried += 1
                if problem := error_body_problem(r):
                    failures.append(f"{route.label} {where} {label}={value}: {problem}")
    return failures, tried


async def test_extreme_dates_never_answer_5xx(world: World) -> None:
    """Every date parameter and body field of every route: 0001-01-01 and 9999-12-31."""
    failures, tried = await _extreme(world, "date", ("0001-01-01", "9999-12-31"))
    assert tried >= 10
    report(failures, "answers to extreme dates")


async def test_huge_integers_never_answer_5xx(world: World) -> None:
    """Every integer parameter and body field of every route: 2^70 and -2^70."""
    failures, tried = await _extreme(world, "integer", (2 ** 70, -(2 ** 70)))
    assert tried >= 10
    report(failures, "answers to huge integers")


async def test_broken_workbooks_are_refused_with_the_error_body(world: World) -> None:
    """Every upload route: workbooks with broken workbook, sheet and styles XML, truncated or
    empty, answer 4xx with the error body and change nothing."""
    failures, tried = [], 0
    for route in guarded(world):
        if not route.is_upload:
            continue
        base = call_for(route, world.a, optional=True)
        for call in with_upload(route, base, world.a, world.a):
            rows = [line.split(",") for line in call.file[1].decode().splitlines()]
            for what, content in broken_workbooks(rows).items():
                c = call.copy()
                c.file = ("upload.xlsx", content)
                before = await world.snapshot()
                r = await send(world, c, world.caller(pick_role(route), world.a))
                tried += 1
                changed = sorted(t for t, v in (await world.snapshot()).items()
                                 if before.get(t) != v)
                if not 400 <= r.status_code < 500 or error_body_problem(r) or changed:
                    failures.append(f"{route.label} {c.url} ({what}): {r.status_code} "
                                    f"{r.text[:100]!r} changed {changed}")
    assert tried >= 8
    report(failures, "broken workbooks not refused")


BODIES = {
    "not UTF-8": b"\xff\xfe{\"a\": 1}",
    "truncated": b'{"plan_year": ',
    "deeply nested": b"[" * 50_000 + b"]" * 50_000,
    "number too large for a float": b'{"plan_year": 1e400}',
    "huge integer": b'{"plan_year": ' + str(2 ** 70).encode() + b"}",
    "null": b"null",
    "a list": b"[1, 2]",
}
YAML = {
    "complex key": "? [a, b]\n: c\n",
    "python tag": "!!python/object/apply:os.system ['true']\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c]\n",
    "unclosed": "region_code: [370481\n",
    "not a mapping": "- 1\n- 2\n",
}


async def test_malformed_json_bodies_are_refused_with_the_error_body(world: World) -> None:
    """Every route with a JSON body: bodies that are not UTF-8, truncated, nested 50,000 deep,
    with numbers beyond a float or 2^70, or not an object answer 4xx with the error body; and
    every plan text (YAML) field with a complex key, a Python tag, an alias bomb, unclosed or
    not a mapping never answers 5xx."""
    failures, tried = [], 0
    for route in guarded(world):
        if route.body_content != "application/json":
            continue
        base = call_for(route, world.a, optional=True)
        headers = {**world.caller(pick_role(route), world.a), "content-type": "application/json"}
        for what, raw in BODIES.items():
            r = await world.clients[route.service].request(
                route.method, base.url, params=base.kwargs()["params"], content=raw,
                headers=headers)
            tried += 1
            if not 400 <= r.status_code < 500 or error_body_problem(r):
                failures.append(f"{route.label} body {what}: {r.status_code} {r.text[:100]!r}")
        for path, schema in field_schemas(route.body_schema, route.document):
            options = [schema, *schema.get("anyOf", [])]
            if path[-1] not in ("plan", "yaml", "document") or \
                    not any(o.get("type") == "string" for o in options):
                continue
            for what, text in YAML.items():
                c = base.copy()
                c.json = set_field(c.json or {}, path, text)
                r = await send(world, c, world.caller(pick_role(route), world.a))
                tried += 1
                if problem := error_body_problem(r):
                    failures.append(f"{route.label} {path[-1]} YAML {what}: {problem}")
    assert tried >= 20
    report(failures, "malformed bodies not refused")


def world_order(world: World) -> str:
    return world.orders[0]


async def test_a_signed_webhook_amount_of_2_to_the_70_never_answers_5xx(world: World) -> None:
    """Every Standard Webhooks channel configured (one per county): a correctly signed
    notification (for a seeded order and for none) whose amount is 2^70, -2^70, 1e400 or 400
    digits is refused or put in suspense, never answered 5xx (a channel's answer is in the
    channel's format, not the error body)."""
    webhook_routes = [r for r in all_routes(world) if r.service == "payments"
                      and r.method == "POST" and r.path == "/v1/webhooks/{channel}"]
    assert webhook_routes, "the Standard Webhooks route is gone: update this test"
    failures = []
    for channel in CHANNELS.values():
        for amount in (str(2 ** 70), str(-(2 ** 70)), "1e400", "1" * 400):
            for order in (world_order(world), "CB-NO-SUCH-ORDER"):
                body = webhook_body(order, amount.encode())
                r = await world.clients["payments"].post(f"/v1/webhooks/{channel}",
                                                         headers=signed(body), content=body)
                if r.status_code >= 500:  # a channel's answer is in the channel's own format
                    failures.append(f"payments POST /v1/webhooks/{channel} amount "
                                    f"{amount[:12]}, order {order[:8]}: {r.status_code} "
                                    f"{r.text[:100]!r}")
    report(failures, "webhooks with huge amounts answered 5xx")


# --- tokens ----------------------------------------------------------------------------------

async def test_forged_tokens_are_refused_everywhere(world: World) -> None:
    """Every route that needs credentials: a token signed with another key, with alg none,
    HS256 over the public key, expired, without expiry, of another issuer or audience, or
    with its region claim changed after signing (as a Bearer token, some also in the token
    cookie), and a session cookie altered after signing, answer 401 with the error body; the
    genuine token is not refused."""
    public = next(world.keys_dir.glob("*.pub.pem")).read_bytes()
    private = world.tokens.private
    forged = forged_tokens(private, public, world.tokens.kid, world.a.county)
    principal = Principal(subject="secA-forger", kind="staff", role="township_staff",
                          region=world.a.township)
    session = world.tokens.signer.session_value(principal)
    version, body, mac = session.split(".")
    tampered_session = f"{version}.{body[:-4]}AAAA.{mac}"
    failures = []
    for route in guarded(world):
        call = call_for(route, world.a, optional=True)
        if route.is_upload:
            call = (with_upload(route, call, world.a, world.a) or [call])[0]
        genuine = await send(world, call, world.caller("administrator", world.a))
        if genuine.status_code == 401:
            failures.append(f"{route.label}: a genuine token is refused too, {genuine.text[:80]}")
        attempts = {kind: {"authorization": f"Bearer {token}"} for kind, token in forged.items()}
        attempts["altered session cookie"] = {"cookie": f"{SESSION_COOKIE}={tampered_session}",
                                              "origin": "http://test"}
        for kind in ("wrong key", "alg none", "region claim tampered"):
            attempts[f"{kind} in the token cookie"] = {
                "cookie": f"{TOKEN_COOKIE}={forged[kind]}", "origin": "http://test"}
        for kind, headers in attempts.items():
            r = await send(world, call, headers)
            if r.status_code != 401 or error_body_problem(r):
                failures.append(f"{route.label} with {kind}: {r.status_code} {r.text[:100]!r}")
    report(failures, "forged credentials accepted")

