"""`touchpoint up`: the whole hub on one machine, one child process per service.

Starts the local broker when no external cluster is configured, creates topics, runs the
migrations, then supervises the services; Ctrl-C (or SIGTERM) stops them and the broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from rich.console import Console

from shared.cli import SERVICE_ENTRYPOINTS, local_broker, resolve
from shared.config import Settings, load_settings
from shared.db.migrate import upgrade
from shared.redaction import safe_url
from shared.kafka.topics import ensure_for

console = Console(stderr=True)
CTRL_C_GRACE_S = 5.0


def available_services(settings: Settings) -> list[str]:
    names = [name for name, entry in SERVICE_ENTRYPOINTS.items() if resolve(entry) is not None]
    if not settings.file.mailboxes and "imap" in names:
        names.remove("imap")
    return names


def with_demo_config(settings: Settings) -> Settings:
    """Without a configuration of its own, the demo writes one (tokens, forms, SLA, SMTP sink)
    and every child process reads it through the environment."""
    from services.demo.config import write_demo_config

    if settings.config is None:
        path = write_demo_config(settings.data_dir)
        os.environ["TOUCHPOINT_CONFIG"] = str(path.resolve())
        console.print(f"[bold]demo[/] configuration {path}")
    os.environ.setdefault("TOUCHPOINT_DEFAULT_REGION", "DE")
    os.environ.setdefault("TOUCHPOINT_PUBLIC_URL", f"http://{settings.api_host}:{settings.api_port}")
    return load_settings()


def run_hub(settings: Settings, demo: bool = False) -> None:
    if demo:
        settings = with_demo_config(settings)
    broker = local_broker(settings) if settings.uses_local_kafka else None
    started_broker = False
    if broker is not None and broker.running_pid() is None:
        console.print(f"[bold]kafka[/] starting in {broker.data_dir} ...")
        broker.start()
        started_broker = True
    console.print(f"[bold]kafka[/] at {settings.bootstrap_servers}")
    created = asyncio.run(ensure_for(settings))
    if created:
        console.print(f"[bold]topics[/] created {len(created)}")
    upgrade(settings.db_url)
    console.print(f"[bold]database[/] {safe_url(settings.db_url)} migrated")

    children: dict[str, subprocess.Popen] = {}
    for name in available_services(settings):
        children[name] = subprocess.Popen([sys.executable, "-m", "shared.cli", name], env=os.environ.copy())
    if demo:
        children["demo"] = subprocess.Popen([sys.executable, "-m", "services.demo"], env=os.environ.copy())
    console.print(f"[bold]services[/] {', '.join(children)}")
    console.print(f"agent UI: http://{settings.api_host}:{settings.api_port}/   ingest: http://{settings.ingest_host}:{settings.ingest_port}/")

    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    interrupted = False
    try:
        while not stop:
            for name, child in list(children.items()):
                if child.poll() is not None and name != "demo":
                    console.print(f"[red]{name} exited with status {child.returncode}[/]; stopping the hub")
                    stop = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # a second Ctrl-C while stopping would end this process before it stops the broker
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        console.print("stopping ...")
        if interrupted:
            # Ctrl-C in a terminal reaches the services too; a second signal of ours would cut
            # their graceful stop short, so they get a moment to stop on their own first
            wait_for_exit(children.values(), CTRL_C_GRACE_S)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if started_broker and broker is not None:
            broker.stop()
        console.print("stopped")


def wait_for_exit(children, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while any(child.poll() is None for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
