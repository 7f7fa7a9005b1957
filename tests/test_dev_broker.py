"""The development broker (devtools.infra.TansuBroker) on a fresh checkout."""

from __future__ import annotations

from pathlib import Path

from devtools.infra import TansuBroker, free_port, port_open


def test_broker_starts_when_its_log_folder_does_not_exist_yet(tmp_path: Path) -> None:
    """A fresh checkout has no .canbao/ yet: the broker makes its log's folder and listens
    (bench/event_bus.py failed with FileNotFoundError on a new machine)."""
    log = tmp_path / "not-yet" / "state" / "tansu.log"
    broker = TansuBroker(port=free_port(), log_path=log)
    broker.start()
    try:
        assert port_open(broker.host, broker.port)
        assert log.exists()
    finally:
        broker.stop()
    assert not broker.running
