-- Keycloak keeps its data in its own database of the same server (first start of the volume
-- only; on an existing volume run: docker compose exec postgres createdb -U canbao keycloak).
CREATE DATABASE keycloak;
