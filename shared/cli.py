"""The `touchpoint` command line (CONTRACT.md). Exit status: 0 success, 2 bad usage,
1 failure with a one-line reason on stderr."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer

from shared.config import ConfigError, Settings, load_settings
from shared.kafka.errors import TransientError
from shared.kafka.local_broker import BrokerError, LocalBroker
from shared.kafka.local_cluster import ClusterShape, LocalCluster, default_shape
from shared.redaction import redact

app = typer.Typer(
    help="Touchpoint: event-sourced multichannel interaction hub for customer service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(help="The local Kafka: one broker, or a cluster of several (data under ./var/kafka).",
                        no_args_is_help=True)
customers_app = typer.Typer(help="Customer master data.", no_args_is_help=True)
mailbox_app = typer.Typer(help="Connecting a mailbox: OAuth 2.0 consent and a sign-in check.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(customers_app, name="customers")
app.add_typer(mailbox_app, name="mailbox")
users_app = typer.Typer(help="People who sign in to the agent UI with a name and a password.", no_args_is_help=True)
app.add_typer(users_app, name="users")
privacy_app = typer.Typer(help="Personal data: retention by period.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

# One process per service, as deployed; `up` starts them all.
SERVICE_ENTRYPOINTS: dict[str, str] = {
    "ingest": "services.ingest.http.main:run",
    "imap": "services.ingest.imap.main:run",
    "projector": "services.projector.main:run",
    "notifier": "services.notifier.main:run",
    "api": "services.projector.api.main:run",
    "sla": "services.projector.complaints.main:run",
}


def fail(message: str, status: int = 1) -> NoReturn:
    typer.echo(f"touchpoint: {redact(message)}", err=True)
    raise typer.Exit(status)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc).replace("\n", "; "))
    from shared.privacy.master import MasterKeyError
    from shared.privacy.runtime import install

    try:
        install(settings)  # personal data sealed and opened by every command, when switched on
    except MasterKeyError as exc:
        fail(str(exc))
    return settings


def resolve(entrypoint: str) -> Callable[..., Any] | None:
    """Imports `module:function`; None when this build does not have the module."""
    module_name, _, attr = entrypoint.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, attr)


def run_entrypoint(entrypoint: str, *args: Any) -> None:
    fn = resolve(entrypoint)
    if fn is None:
        fail(f"'{entrypoint.split(':')[0]}' is not part of this build", status=2)
    try:
        result = fn(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except (ConfigError, BrokerError, TransientError) as exc:
        fail(str(exc).replace("\n", "; "))
    except KeyboardInterrupt:
        pass


def local_broker(settings: Settings, brokers: int | None = None) -> LocalBroker | LocalCluster:
    """The local Kafka under the data folder: the cluster recorded there, else one broker.
    `brokers` asks for a size; a folder that holds another size is an error naming what to do."""
    kafka_dir = settings.data_dir / "kafka"
    kafka_home = settings.kafka_home or (Path(os.environ["KAFKA_HOME"]) if os.environ.get("KAFKA_HOME") else None)
    shape = ClusterShape.read(kafka_dir)
    size = brokers or (shape.size if shape else 1)
    if shape is not None and shape.size != size or shape is None and size > 1 and (kafka_dir / "data").exists():
        held = f"a {shape.size}-node cluster" if shape else "a single broker's data"
        raise BrokerError(f"{kafka_dir} holds {held}; stop it and move {kafka_dir} away to start {size} node(s) there")
    if size == 1:
        return LocalBroker(data_dir=kafka_dir, port=settings.kafka_port,
                           controller_port=settings.kafka_controller_port, kafka_home=kafka_home)
    shape = shape or default_shape(size, settings.kafka_port, settings.kafka_controller_port)
    return LocalCluster(data_dir=kafka_dir, shape=shape, kafka_home=kafka_home)


# ---- the services -----------------------------------------------------------------------------


def _service_command(name: str, help_text: str) -> None:
    def command() -> None:
        run_entrypoint(SERVICE_ENTRYPOINTS[name], settings_or_exit())

    command.__doc__ = help_text
    app.command(name=name)(command)


_service_command("ingest", "Ingest HTTP service: telephony, web form and shipping webhooks.")
_service_command("imap", "IMAP pollers for the configured mailboxes.")
_service_command("projector", "Projector: the log into customer timelines, identities and SLA views.")
_service_command("notifier", "Notifier: escalation routing and delivery.")
_service_command("api", "Agent API and web UI.")
_service_command("sla", "Complaints processor and SLA timers (complaint events, clocks, warnings, breaches).")


@app.command()
def up(
    demo: bool = typer.Option(False, "--demo", help="import demo customers and feed traffic on every channel"),
) -> None:
    """Run the whole hub on this machine: Kafka (unless TOUCHPOINT_KAFKA_BOOTSTRAP is set),
    migrations, and every service; Ctrl-C stops everything."""
    settings = settings_or_exit()
    resolve_up = resolve("services.hub:run_hub")
    if resolve_up is None:
        fail("'touchpoint up' is not part of this build", status=2)
    try:
        resolve_up(settings, demo=demo)
    except (ConfigError, BrokerError, TransientError) as exc:
        fail(str(exc).replace("\n", "; "))


# ---- kafka ------------------------------------------------------------------------------------


def local_kafka_or_exit(settings: Settings, brokers: int | None = None) -> LocalBroker | LocalCluster:
    try:
        return local_broker(settings, brokers)
    except BrokerError as exc:
        fail(str(exc))


@kafka_app.command("start")
def kafka_start(
    brokers: int = typer.Option(None, "--brokers", min=1, max=9,
                                help="nodes of a local KRaft cluster (e.g. 3: replication 3, min ISR 2)"),
) -> None:
    """Start the local Kafka (jars from Maven Central or $KAFKA_HOME) and wait until it is ready."""
    settings = settings_or_exit()
    if not settings.uses_local_kafka:
        fail(f"TOUCHPOINT_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is set: nothing to start", status=2)
    broker = local_kafka_or_exit(settings, brokers)
    typer.echo(f"starting Kafka in {broker.data_dir} (first start resolves jars with Maven) ...", err=True)
    try:
        pid = broker.start()
    except BrokerError as exc:
        fail(str(exc))
    typer.echo(f"kafka running (pid {pid}) at {broker.bootstrap}")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker or every node of the local cluster (no-op when none runs)."""
    broker = local_kafka_or_exit(settings_or_exit())
    typer.echo("kafka stopped" if broker.stop() else "kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Show whether the local Kafka runs (each node of a cluster); exit status 1 unless all do."""
    settings = settings_or_exit()
    if not settings.uses_local_kafka:
        typer.echo(f"external cluster at {settings.kafka_bootstrap}")
        return
    status = local_kafka_or_exit(settings).status()
    typer.echo(f"kafka {status}")
    if not status.startswith("running"):
        raise typer.Exit(1)


# ---- data -----------------------------------------------------------------------------------


@customers_app.command("import")
def customers_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV: customer_ref,name,email,phone,..."),
) -> None:
    """Publish customer master data as `customer.registered` events."""
    run_entrypoint("services.projector.customers_import:run", settings_or_exit(), file)


@customers_app.command("erase")
def customers_erase(
    ref: str = typer.Argument(None, help="the customer's customer_ref"),
    email: str = typer.Option(None, "--email", help="an unmatched contact's address"),
    phone: str = typer.Option(None, "--phone", help="an unmatched contact's number"),
) -> None:
    """Erase a customer or an unmatched contact: destroy its keys, publish customer.erased."""
    if sum(1 for value in (ref, email, phone) if value) != 1:
        fail("give exactly one of REF, --email or --phone", status=2)
    run_entrypoint("services.projector.privacy.commands:run", settings_or_exit(), ref, email, phone)


@customers_app.command("export")
def customers_export(
    ref: str = typer.Argument(..., help="the customer's customer_ref"),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="the zip file to write"),
) -> None:
    """Everything about a customer, decrypted: its events as JSON plus attachments, in a zip."""
    run_entrypoint("services.projector.privacy.export:run", settings_or_exit(), ref, out)


@privacy_app.command("retention")
def privacy_retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be shredded"),
    now: str = typer.Option(None, "--now", help="pretend this instant (ISO date or time, UTC)"),
) -> None:
    """Shred the keys of every [privacy.retention] class whose period ended; print what expired."""
    run_entrypoint("services.projector.privacy.retention_command:run", settings_or_exit(), dry_run, now)


@mailbox_app.command("authorize")
def mailbox_authorize(name: str = typer.Argument(..., help="the mailbox's name in [[mailboxes]]")) -> None:
    """Give the user's consent (OAuth 2.0) and store the refresh token in refresh_token_file."""
    run_entrypoint("services.ingest.imap.mailbox_commands:authorize", settings_or_exit(), name)


@mailbox_app.command("test")
def mailbox_test(name: str = typer.Argument(..., help="the mailbox's name in [[mailboxes]]")) -> None:
    """Sign in, list the configured folders with their UIDVALIDITY, and say what is wrong."""
    run_entrypoint("services.ingest.imap.mailbox_commands:test", settings_or_exit(), name)


USERS = "services.projector.users.commands"


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="the user's name (lower-case letters, digits, . _ - @)"),
    role: str = typer.Option(..., "--role", help="agent, lead, ops or admin"),
    extension: str = typer.Option(None, "--extension", help="telephone extension for screen pops"),
) -> None:
    """Add a user; the password is asked twice (or read from stdin when it is not a terminal)."""
    run_entrypoint(f"{USERS}:add", settings_or_exit(), name, role, extension)


@users_app.command("passwd")
def users_passwd(name: str = typer.Argument(..., help="the user's name")) -> None:
    """Set a new password (asked twice, or read from stdin); the user's sessions end."""
    run_entrypoint(f"{USERS}:passwd", settings_or_exit(), name)


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., help="the user's name")) -> None:
    """The user can no longer log in; their open sessions end at once."""
    run_entrypoint(f"{USERS}:disable", settings_or_exit(), name)


REBUILDS = {
    "timeline": "services.projector.rebuild:run",
    "sla": "services.projector.complaints.rebuild:rebuild",
    "callbacks": "services.projector.callbacks.rebuild:rebuild",
    "consents": "services.projector.consent.rebuild:rebuild",
    "audit": "services.projector.audit.rebuild:rebuild",
}


@app.command()
def rebuild(
    projection: str = typer.Argument("all", help="timeline, sla, callbacks, consents, audit or all"),
    recompute: bool = typer.Option(
        False, "--recompute", help="sla: measure historic clocks under the current policies too"
    ),
) -> None:
    """Drop and replay read models from the log, with a progress bar. Stop the projector
    (and `touchpoint sla`) first when rebuilding sla, callbacks or audit."""
    if projection not in (*REBUILDS, "all"):
        fail(f"unknown projection {projection!r}; choose one of: {', '.join(REBUILDS)}, all", status=2)
    settings = settings_or_exit()
    for name in REBUILDS if projection == "all" else (projection,):
        args = (settings, name) if name == "timeline" else (settings, recompute)
        run_entrypoint(REBUILDS[name], *args)


@app.command()
def lag(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Consumer lag per group and partition, from the broker."""
    run_entrypoint("shared.kafka.lag:run", settings_or_exit(), as_json)


@app.command()
def topics() -> None:
    """Create Touchpoint's topics (idempotent) and list them."""
    run_entrypoint("shared.kafka.topics:run", settings_or_exit())


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
