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
    assert set(COMPOSE["volumes"]) == {"pgdata", "kafkadata"}
    for name in SERVICES:
        assert svc[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert svc[name]["depends_on"]["kafka"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_command_is_a_real_canbao_command(name: str) -> None:
    command = COMPOSE["services"][name]["command"]
    assert command[0] == "canbao"
    args = build_parser().parse_args(command[1:])
    assert args.service == name and args.migrate
    port = int(COMPOSE["services"][name]["environment"]["CANBAO_PORT"])
    assert f"{port}:{port}" in COMPOSE["services"][name]["ports"]


def test_every_variable_set_is_read_by_the_settings() -> None:
    known = _settings_variables()
    example = _env_file(ROOT / "deploy" / ".env.example")
    set_vars = set(example)
    for service in COMPOSE["services"].values():
        set_vars.update(service.get("environment", {}) if isinstance(service.get("environment"), dict) else {})
    canbao = {v for v in set_vars if v.startswith("CANBAO_")}
    assert canbao, "the example configures the services"
    assert canbao <= known, f"not read by any settings class: {sorted(canbao - known)}"
    # POSTGRES_*, KAFKA_* and KC_* (Keycloak) configure the images beside ours
    others = {v for v in set_vars - canbao if not v.startswith(("POSTGRES_", "KAFKA_", "KC_"))}
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
