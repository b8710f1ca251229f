"""Creates Touchpoint's topics: idempotent, with the configured partitions and replication.

The event topics are the system of record, so they never expire (`retention.ms=-1`); Kafka's
default would delete events after seven days."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from events.topics import ACCESS_TOPICS, EVENT_TOPICS, deadletter_topic, topic_name
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.local_broker import min_insync_for
from shared.kafka.security import client_options

SERVICES_WITH_DEADLETTERS = ("ingest", "imap", "projector", "complaints", "callbacks", "notifier", "consents")


def all_topic_names(prefix: str) -> list[str]:
    names = [topic_name(prefix, topic) for topic in (*EVENT_TOPICS, *ACCESS_TOPICS)]
    names += [deadletter_topic(prefix, service) for service in SERVICES_WITH_DEADLETTERS]
    return names


def topic_configs(min_insync_replicas: int) -> dict[str, str]:
    return {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
        "min.insync.replicas": str(min_insync_replicas),
        "max.message.bytes": "1048588",
    }


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int = 4,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    timeout_s: float = 30.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Creates the topics that do not exist yet; returns the names it created.

    Without a replication factor, each topic gets as many replicas as the cluster has brokers,
    at most three; without `min.insync.replicas`, 2 where there are three replicas, else 1.
    The cluster's size is the larger of the brokers alive and the replicas its topics already
    have, so a topic is never created with fewer replicas because a broker is down: that waits
    for the broker until the timeout, then fails saying what to do."""
    names = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000),
                                **(client_options or {}))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        await admin.close()
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap_servers}: {exc!r}") from exc
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while True:
            try:
                return await _create_missing(admin, names, partitions, replication_factor, min_insync_replicas,
                                             deadline)
            except KafkaError as exc:  # a broker of the cluster is down or restarting: ask another
                if not exc.retriable or asyncio.get_running_loop().time() > deadline:
                    raise KafkaUnavailable(f"cannot create topics at {bootstrap_servers}: {exc!r}") from exc
                await asyncio.sleep(0.5)
            except _BrokersMissing as missing:
                if asyncio.get_running_loop().time() > deadline:
                    raise KafkaUnavailable(
                        f"only {missing.alive} of the cluster's {missing.wanted} brokers at {bootstrap_servers} are up, "
                        f"so new topics would get fewer replicas than the others: start the missing broker "
                        f"(`touchpoint kafka status`) or set TOUCHPOINT_TOPIC_REPLICATION_FACTOR") from None
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def _create_missing(
    admin: AIOKafkaAdminClient, names: list[str], partitions: int, replication_factor: int | None,
    min_insync_replicas: int | None, deadline: float,
) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [name for name in names if name not in existing]
    if missing and replication_factor is None:
        alive = len((await admin.describe_cluster())["brokers"])
        replication_factor = min(3, max(alive, await _widest_replication(admin, existing)))
        if replication_factor > alive:
            raise _BrokersMissing(alive, replication_factor)
    configs = topic_configs(min_insync_replicas or min_insync_for(replication_factor or 1))
    created = []
    if missing:  # one request for all of them: one round trip to the controller, not one per topic
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor, topic_configs=configs) for name in missing])
        for name, code, *message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:  # another service created it meanwhile: fine
                error = for_code(code)
                raise error(f"creating topic {name}: {message[0] if message and message[0] else error.description}")
    await wait_until_listed(admin, names, deadline - asyncio.get_running_loop().time())
    return created


class _BrokersMissing(Exception):
    def __init__(self, alive: int, wanted: int) -> None:
        super().__init__(f"{alive} of {wanted} brokers")
        self.alive, self.wanted = alive, wanted


async def _widest_replication(admin: AIOKafkaAdminClient, topics: set[str], sample: int = 32) -> int:
    """The replicas of existing topics, from a sample: a cluster's topics share one replication
    factor, and describing thousands of them would make every start slower as the cluster grows."""
    if not topics:
        return 0
    described = await admin.describe_topics(sorted(topics)[:sample])
    return max((len(partition["replicas"]) for topic in described for partition in topic["partitions"]), default=0)


async def wait_until_listed(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float) -> None:
    """The broker's metadata learns of new topics shortly after the controller created them;
    a reader started right after `ensure_topics` would otherwise find them missing."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not set(names) <= set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaUnavailable(f"topics {sorted(set(names) - set(await admin.list_topics()))} not listed yet")
        await asyncio.sleep(0.1)


async def ensure_for(settings) -> list[str]:  # type: ignore[no-untyped-def]
    return await ensure_topics(
        settings.bootstrap_servers,
        all_topic_names(settings.topic_prefix),
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        min_insync_replicas=settings.topic_min_insync_replicas,
        client_options=client_options(settings),
    )


def run(settings) -> None:  # type: ignore[no-untyped-def]
    """`touchpoint topics`: creates what is missing and lists every topic."""
    created = asyncio.run(ensure_for(settings))
    for name in all_topic_names(settings.topic_prefix):
        print(f"{name}\t{'created' if name in created else 'exists'}")
