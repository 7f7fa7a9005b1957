"""The `canbao` command: run the whole system, one service, migrations, and operations tools."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.cli_dev_stack import (
    DEV_STACK,
    adopt_dev_stack,
    without_password,
    write_dev_stack,
)
from shared.settings import DEFAULT_PORTS, SERVICES, get_settings

STATE_DIR = Path(os.environ.get("CANBAO_STATE_DIR", ".canbao"))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from shared.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, service=args.service)
    if args.migrate:
        from shared.migrations import upgrade

        upgrade(args.service, settings.database_url)
    uvicorn.run(
        f"services.{args.service}.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port_for(args.service),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.migrations import upgrade

    url = get_settings().database_url
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        print(f"unknown service(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for service in args.services or SERVICES:
        upgrade(service, url)
        print(f"{service}: migrations applied")
    return 0


def _wait_ready(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.3)
    return False


DEVTOOLS_MISSING = (
    "`canbao {command}` 是开发工具, 需要开发依赖: 在源码目录运行 `make run`, 或 "
    "`pip install -e '.[dev]'`。生产镜像不含开发依赖。\n"
    "`canbao {command}` is a development tool and needs the development extras: run `make run` "
    "in the source tree, or `pip install -e '.[dev]'`. The production image does not carry "
    "them."
)


def require_devtools(command: str) -> bool:
    """True when the development tools (the `devtools` package and the `dev` extra's wheels)
    can be imported; otherwise says in Chinese and English what to install."""
    try:
        import devtools.channels.dev  # noqa: F401
        import devtools.infra  # noqa: F401
    except ImportError:
        print(DEVTOOLS_MISSING.format(command=command), file=sys.stderr)
        return False
    return True


def cmd_dev(args: argparse.Namespace) -> int:
    if not require_devtools("dev"):
        return 2
    from devtools.infra import EmbeddedPostgres, TansuBroker, create_database
    from shared.auth import ensure_dev_keypair
    from shared.migrations import upgrade_all

    STATE_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("CANBAO_ENVIRONMENT", "development")
    # A development signing key, so that `canbao token` mints tokens the services accept.
    ensure_dev_keypair(STATE_DIR / "keys")
    env.setdefault("CANBAO_JWT_PUBLIC_KEYS_DIR", str((STATE_DIR / "keys").resolve()))
    # Development payment channels (keys created once, kept in .canbao/channels/), unless the
    # environment configures channels itself: production keys come only from configuration.
    from devtools.channels.dev import ensure_dev_channels  # noqa: I001

    channels = ensure_dev_channels(STATE_DIR / "channels",
                                   f"http://127.0.0.1:{DEFAULT_PORTS['payments']}")
    dev_channels = not any(k.startswith("CANBAO_PAYMENTS_") and k.endswith(
        ("_KEYS", "_APIV3_KEY", "_PUBLIC_KEY", "_SECRETS")) for k in os.environ)
    if dev_channels:
        for name, value in channels.payments_env().items():
            env.setdefault(name, value)
    pg: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop_everything(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping...", flush=True)
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in children:
            try:
                child.wait(25)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it")
                child.kill()
        (STATE_DIR / DEV_STACK).unlink(missing_ok=True)
        if broker:
            broker.stop()
        if pg:
            pg.stop()
        print("stopped.", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if "CANBAO_DATABASE_URL" in os.environ:
            server_url = os.environ["CANBAO_DATABASE_URL"]
            db_url = server_url
            db_where = "from CANBAO_DATABASE_URL"
        else:
            pg = EmbeddedPostgres(STATE_DIR.resolve() / "pg")
            server_url = pg.start()
            db_url = asyncio.run(create_database(server_url, "canbao"))
            db_where = f"embedded PostgreSQL 18, data in {STATE_DIR / 'pg'}"
        env["CANBAO_DATABASE_URL"] = db_url
        if "CANBAO_KAFKA_BOOTSTRAP_SERVERS" in os.environ:
            bootstrap = os.environ["CANBAO_KAFKA_BOOTSTRAP_SERVERS"]
            kafka_where = "from CANBAO_KAFKA_BOOTSTRAP_SERVERS"
        else:
            broker = TansuBroker(port=args.kafka_port, log_path=STATE_DIR / "tansu.log")
            bootstrap = broker.start()
            env["CANBAO_KAFKA_IDEMPOTENT_PRODUCER"] = "false"
            kafka_where = "embedded tansu broker (in memory)"
        env["CANBAO_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        write_dev_stack(STATE_DIR, env)
        os.environ.update({k: env[k] for k in ("CANBAO_DATABASE_URL", "CANBAO_KAFKA_BOOTSTRAP_SERVERS")})
        get_settings.cache_clear()
        upgrade_all(db_url)
        for service in SERVICES:
            log = open(STATE_DIR / f"{service}.log", "ab")  # noqa: SIM115
            children.append((service, subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", service],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )))
        print("Canbao is starting:")
        print(f"  postgres     {db_where}")
        print(f"  kafka        {bootstrap} ({kafka_where})")
        for service in SERVICES:
            port = DEFAULT_PORTS[service]
            ok = _wait_ready(port, args.ready_timeout)
            state = "ready" if ok else f"NOT READY (see {STATE_DIR / (service + '.log')})"
            print(f"  {service:<12} http://127.0.0.1:{port}  docs: /docs  {state}", flush=True)
        print(f"Tokens: canbao token --role administrator --region 370481 "
              f"(keys in {STATE_DIR / 'keys'})")
        if dev_channels:
            names = ", ".join(channels.channel(k)["channel"] for k in ("wechatpay", "alipay",
                                                                        "bank"))
            print(f"Channels: {names} (development keys in {STATE_DIR / 'channels'}); "
                  "pay a bill: canbao pay --id-number ... --plan-year ...")
        else:
            print("Channels: configured by CANBAO_PAYMENTS_* (no development channels)")
        print(f"Logs in {STATE_DIR}/*.log. Ctrl-C stops everything.", flush=True)
        while True:
            for name, child in children:
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop_everything()


def cmd_dlt_replay(args: argparse.Namespace) -> int:
    from shared.dlt import replay

    count = asyncio.run(replay(get_settings(), args.consumer, limit=args.limit))
    print(f"replayed {count} messages from the dead-letter topic of {args.consumer}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canbao", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole system on this machine")
    dev.add_argument("--kafka-port", type=int, default=9092,
                     help="port of the embedded broker (default 9092)")
    dev.add_argument("--ready-timeout", type=float, default=90,
                     help="seconds to wait for each service's /readyz (default 90)")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="run one service (what a container runs)")
    serve.add_argument("service", choices=SERVICES, help="which service")
    serve.add_argument("--host", help="address to listen on (default CANBAO_HOST)")
    serve.add_argument("--port", type=int,
                       help="port (default CANBAO_PORT, else the service's: 8001-8004)")
    serve.add_argument("--migrate", action="store_true", help="apply its migrations first")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("services", nargs="*", help=f"some of {', '.join(SERVICES)}; default all")
    migrate.set_defaults(func=cmd_migrate)

    sub.add_parser("token", help="mint a development token (canbao token --help)", add_help=False)

    from services.cli_pay import build_parser as pay_parser
    from services.cli_pay import cmd_pay

    pay = pay_parser(sub.add_parser("pay", help="pay a bill as a channel does (canbao dev)"))
    pay.set_defaults(func=cmd_pay)

    from services.cli_pii import build_parser as pii_parser

    pii_parser(sub.add_parser("pii", help="personal data keys: canbao pii rotate"))

    from services.cli_sessions import build_parser as sessions_parser

    sessions_parser(sub.add_parser("sessions", help="browser sessions: canbao sessions revoke"))
    from services.cli_plans import build_parser as plans_parser

    plans_parser(sub.add_parser("plans", help="the plan registry: new, check, upload, approve, "
                                              "publish, simulate, history, republish"))
    from services.cli_deploy import add_parser as add_init_secrets

    add_init_secrets(sub)

    from services.cli_ops import add_parsers as add_ops_parsers

    add_ops_parsers(sub)

    dlt = sub.add_parser("dlt", help="dead-letter topics")
    dlt_sub = dlt.add_subparsers(dest="dlt_command", required=True)
    replay = dlt_sub.add_parser("replay", help="publish dead-lettered messages to their topic again")
    replay.add_argument("consumer", help="consumer name, e.g. eligibility")
    replay.add_argument("--limit", type=int, default=None,
                        help="replay at most this many messages (default all)")
    replay.set_defaults(func=cmd_dlt_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from shared.secret_files import SecretFileError, load_secret_files

    try:
        load_secret_files()
    except SecretFileError as exc:
        print(f"canbao: 密钥文件无法读取 cannot read a secret file: {exc}", file=sys.stderr)
        return 2
    if argv and argv[0] == "token":
        from shared.auth import token_command

        return token_command(argv[1:])
    args = build_parser().parse_args(argv)
    # a service is configured by its environment; these talk to the services' APIs only
    api_only = args.command in ("dev", "serve", "plans", "pay") or (
        args.command == "import" and args.what in ("lists", "villages", "students"))
    if not api_only:
        adopt_dev_stack(STATE_DIR)
    try:
        return int(args.func(args))
    except Exception as exc:
        from shared.errors import database_unreachable

        cause = database_unreachable(exc)
        if cause is None:
            raise
        url = without_password(get_settings().database_url)
        print(f"canbao: 无法连接数据库 cannot reach the database {url}: {cause}\n"
              "  make run (canbao dev) 运行时，在同一目录下直接运行本命令即可；"
              "否则请设置 CANBAO_DATABASE_URL。", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
