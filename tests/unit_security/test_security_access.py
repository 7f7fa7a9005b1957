"""Who sees which region, who reads full ID numbers, and what each route lets through."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, FastAPI

from shared.auth import (
    AccessControl,
    AccessRule,
    Principal,
    PrincipalDep,
    Verifier,
    authorize,
    enforce_access,
    install_access_control,
    match_rule,
    mint_token,
    present_id_number,
    region_prefix,
    require_department,
)
from shared.errors import Forbidden, install_error_handlers
from shared.pii import PiiVault

TOWNSHIP = "370481001000"
VILLAGE = "370481001001"
OTHER_TOWNSHIP = "370481002000"
OTHER_VILLAGE = "370481002003"
COUNTY = "370481"
OTHER_COUNTY = "370124"
CITY = "370400"
PROVINCE = "370000"
SHANXI_CITY = "140600"


def staff(role: str, region: str, department: str | None = None) -> Principal:
    return Principal(subject="u", kind="staff", role=role, region=region, department=department)


def system(*scopes: str, region: str | None = None) -> Principal:
    return Principal(subject="sys", kind="system", scopes=frozenset(scopes), region=region)


@pytest.mark.parametrize("code, prefix", [
    (PROVINCE, "37"), (CITY, "3704"), (COUNTY, "370481"), ("370481000000", "370481"),
    (TOWNSHIP, "370481001"), (VILLAGE, VILLAGE), ("000000", ""),
    ("37048", None), ("3704810010", None), ("37048100100a", None), ("370481\n", None),
    ("３７０４８１", None),
])
def test_region_prefix(code: str, prefix: str | None) -> None:
    assert region_prefix(code) == prefix


def test_township_staff_see_their_township_and_its_villages_only() -> None:
    p = staff("township_staff", TOWNSHIP)
    assert p.can_see_region(TOWNSHIP) and p.can_see_region(VILLAGE)
    assert p.can_see_region("370481001999")
    for outside in (OTHER_TOWNSHIP, OTHER_VILLAGE, COUNTY, CITY, PROVINCE, "garbage"):
        assert not p.can_see_region(outside), outside


def test_village_staff_see_only_their_village() -> None:
    p = staff("township_staff", VILLAGE)
    assert p.can_see_region(VILLAGE)
    assert not p.can_see_region(TOWNSHIP) and not p.can_see_region("370481001002")


@pytest.mark.parametrize("role, department", [
    ("township_staff", None), ("department_officer", "civil_affairs"),
    ("medical_insurance_officer", None), ("tax_officer", None), ("finance_officer", None),
    ("supervisor", None), ("administrator", None),
])
def test_county_scope_sees_the_county_and_nothing_beyond(role: str, department: str | None) -> None:
    p = staff(role, COUNTY, department)
    for inside in (COUNTY, "370481000000", TOWNSHIP, VILLAGE, OTHER_TOWNSHIP, OTHER_VILLAGE):
        assert p.can_see_region(inside), inside
    for outside in (OTHER_COUNTY, "370124001000", CITY, PROVINCE, SHANXI_CITY):
        assert not p.can_see_region(outside), outside


def test_province_and_city_scopes() -> None:
    province = staff("supervisor", PROVINCE)
    for inside in (PROVINCE, CITY, COUNTY, OTHER_COUNTY, TOWNSHIP, VILLAGE):
        assert province.can_see_region(inside), inside
    assert not province.can_see_region(SHANXI_CITY)
    assert not province.can_see_region("000000")
    city = staff("medical_insurance_officer", CITY)
    assert city.can_see_region(COUNTY) and city.can_see_region(VILLAGE)
    assert not city.can_see_region(OTHER_COUNTY) and not city.can_see_region(PROVINCE)
    national = staff("administrator", "000000")
    assert national.can_see_region(SHANXI_CITY) and national.can_see_region(VILLAGE)


def test_system_callers_are_limited_by_region_only_when_they_carry_one() -> None:
    assert system("payments:bills").can_see_region(VILLAGE)
    assert system("payments:bills").can_see_region(SHANXI_CITY)
    assert not system("payments:bills").can_see_region("bogus")
    shandong_channel = system("payments:bills", region=PROVINCE)
    assert shandong_channel.can_see_region(VILLAGE)
    assert not shandong_channel.can_see_region(SHANXI_CITY)


def test_principal_refuses_inconsistent_shapes() -> None:
    with pytest.raises(ValueError):
        staff("department_officer", COUNTY)  # no department
    with pytest.raises(ValueError):
        staff("township_staff", TOWNSHIP, "civil_affairs")
    with pytest.raises(ValueError):
        staff("township_staff", "37048")
    with pytest.raises(ValueError):
        Principal(subject="s", kind="system", role="administrator")


@pytest.mark.parametrize("principal, allowed", [
    (staff("medical_insurance_officer", COUNTY), True),
    (staff("administrator", COUNTY), True),
    (staff("township_staff", TOWNSHIP), False),
    (staff("department_officer", COUNTY, "civil_affairs"), False),
    (staff("tax_officer", COUNTY), False),
    (staff("finance_officer", COUNTY), False),
    (staff("supervisor", PROVINCE), False),
    (system("pii:read", "registration:read"), True),
    (system("registration:read"), False),
])
def test_full_id_number_visibility(principal: Principal, allowed: bool) -> None:
    assert principal.can_read_full_id_number is allowed
    vault = PiiVault("test-key")
    plain = "37048119900101123X"
    masked = "370481********123X"
    expected = plain if allowed else masked
    assert present_id_number(principal, plain, masked) == expected
    assert present_id_number(principal, vault.encrypt(plain), masked, vault=vault) == expected


def test_encrypted_id_without_vault_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        present_id_number(staff("administrator", COUNTY), PiiVault("k").encrypt("x" * 18), "m")
    # ...but those who may not see it get the mask without any decryption.
    assert present_id_number(staff("tax_officer", COUNTY), "ciphertext", "m") == "m"


PROGRESS = AccessRule(roles=frozenset({"township_staff", "supervisor", "administrator"}),
                      scopes=frozenset({"reporting:read"}))
LIST_UPLOAD = AccessRule(roles=frozenset({"department_officer", "medical_insurance_officer"}),
                         scopes=frozenset(), department_param="department")


def codes(principal: Principal, rule: AccessRule, path: dict, query: dict) -> str | None:
    try:
        authorize(principal, rule, path, query)
    except Forbidden as exc:
        return exc.code
    return None


def test_authorize_codes() -> None:
    township = staff("township_staff", TOWNSHIP)
    assert codes(township, PROGRESS, {}, {"county_code": COUNTY}) == "forbidden_region"
    assert codes(township, PROGRESS, {}, {"township_code": TOWNSHIP}) is None
    assert codes(township, PROGRESS, {"village_code": VILLAGE}, {}) is None
    assert codes(township, PROGRESS, {"village_code": OTHER_VILLAGE}, {}) == "forbidden_region"
    assert codes(staff("tax_officer", COUNTY), PROGRESS, {}, {}) == "forbidden_role"
    assert codes(system("payments:bills"), PROGRESS, {}, {}) == "forbidden_scope"
    assert codes(system("reporting:read"), PROGRESS, {}, {"county_code": COUNTY}) is None

    civil = staff("department_officer", COUNTY, "civil_affairs")
    assert codes(civil, LIST_UPLOAD, {"department": "civil_affairs"}, {}) is None
    assert codes(civil, LIST_UPLOAD, {"department": "education"}, {}) == "forbidden_department"
    rural = staff("department_officer", COUNTY, "rural_revitalization")
    assert codes(rural, LIST_UPLOAD, {"department": "agriculture"}, {}) is None
    # Other allowed roles are not bound to one department.
    mio = staff("medical_insurance_officer", COUNTY)
    assert codes(mio, LIST_UPLOAD, {"department": "education"}, {}) is None
    assert codes(system("registration:write"), LIST_UPLOAD, {}, {}) == "forbidden_scope"
    with pytest.raises(Forbidden):
        require_department(civil, "veterans_affairs")


def test_every_repeated_query_value_is_checked() -> None:
    from starlette.datastructures import QueryParams

    township = staff("township_staff", TOWNSHIP)
    query = QueryParams([("village_code", VILLAGE), ("village_code", OTHER_VILLAGE)])
    assert codes(township, PROGRESS, {}, query) == "forbidden_region"


def test_access_rule_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError):
        AccessRule(roles=frozenset({"townshp_staff"}))


def test_match_rule() -> None:
    rules = {("GET", "/v1/persons/{person_id}"): PROGRESS,
             ("POST", "/v1/lists/{department}"): LIST_UPLOAD}
    assert match_rule(rules, "get", "/v1/persons/{person_id}") is PROGRESS
    assert match_rule(rules, "HEAD", "/v1/persons/{person_id}") is PROGRESS
    assert match_rule(rules, "DELETE", "/v1/persons/{person_id}") is None
    assert match_rule(rules, "GET", "/v1/persons/123") is None


# --- through FastAPI ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing() -> tuple[bytes, Verifier]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, Verifier({"k1": public}, issuer="canbao", audience="canbao")


def make_app(verifier: Verifier, *, enabled: bool = True) -> FastAPI:
    app = FastAPI(dependencies=[Depends(enforce_access)])
    install_error_handlers(app)
    install_access_control(app, AccessControl(
        verifier=verifier, enabled=enabled,
        rules={("GET", "/v1/progress"): PROGRESS,
               ("POST", "/v1/lists/{department}/{plan_year}"): LIST_UPLOAD},
    ))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/v1/progress")
    async def progress(principal: PrincipalDep, county_code: str | None = None,
                       township_code: str | None = None) -> dict[str, str | None]:
        return {"who": principal.subject, "role": principal.role}

    @app.post("/v1/lists/{department}/{plan_year}")
    async def upload(department: str, plan_year: int, principal: PrincipalDep) -> dict[str, str]:
        return {"department": department}

    @app.get("/v1/unruled")
    async def unruled() -> dict[str, str]:
        return {"oops": "reachable"}

    return app


async def test_fastapi_integration(signing: tuple[bytes, Verifier]) -> None:
    private, verifier = signing

    def bearer(**claims: object) -> dict[str, str]:
        token = mint_token(private, "k1", issuer="canbao", audience="canbao", **claims)  # type: ignore[arg-type]
        return {"authorization": f"Bearer {token}"}

    township = bearer(sub="u-7", role="township_staff", region=TOWNSHIP)
    civil = bearer(sub="u-8", role="department_officer", region=COUNTY, department="civil_affairs")
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).status_code == 200

        r = await client.get("/v1/progress")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
        assert r.headers["www-authenticate"].startswith("Bearer ")
        r = await client.get("/v1/progress", headers={"authorization": "Bearer x.y.z"})
        assert r.status_code == 401

        r = await client.get("/v1/progress", params={"township_code": TOWNSHIP}, headers=township)
        assert r.status_code == 200 and r.json() == {"who": "u-7", "role": "township_staff"}
        r = await client.get("/v1/progress", params={"county_code": COUNTY}, headers=township)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_region")
        r = await client.get("/v1/progress", headers=civil)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_role")

        r = await client.post("/v1/lists/civil_affairs/2025", headers=civil)
        assert r.status_code == 200
        r = await client.post("/v1/lists/education/2025", headers=civil)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_department")

        # Default deny: a route nobody wrote a rule for is closed, even to an administrator.
        admin = bearer(sub="root", role="administrator", region="000000")
        r = await client.get("/v1/unruled", headers=admin)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_role")

    open_app = make_app(verifier, enabled=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=open_app),
                                 base_url="http://t") as client:
        r = await client.get("/v1/progress")
        assert r.status_code == 200 and r.json()["role"] == "administrator"
