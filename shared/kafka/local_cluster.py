"""A local Apache Kafka cluster of several KRaft nodes on loopback ports, for trying out and
testing what a production cluster does: replication, `min.insync.replicas` and broker loss.

Node N keeps its data in `<kafka dir>/node-N`. The cluster's shape (node ids, ports, cluster id)
is written once to `<kafka dir>/cluster.json`, so `stop`, `status` and every service started
later find all nodes without being told again."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from shared.kafka.local_broker import BrokerError, LocalBroker, new_cluster_id

SHAPE_FILE = "cluster.json"


@dataclass(frozen=True)
class ClusterShape:
    cluster_id: str
    ports: tuple[int, ...]
    controller_ports: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.ports)

    def to_json(self) -> str:
        return json.dumps({"cluster_id": self.cluster_id, "ports": list(self.ports),
                           "controller_ports": list(self.controller_ports)})

    @classmethod
    def read(cls, kafka_dir: Path) -> ClusterShape | None:
        try:
            raw = json.loads((kafka_dir / SHAPE_FILE).read_text())
            return cls(raw["cluster_id"], tuple(raw["ports"]), tuple(raw["controller_ports"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise BrokerError(f"{kafka_dir / SHAPE_FILE} is damaged ({exc}); stop the nodes and remove {kafka_dir}") from None


def default_shape(size: int, port: int, controller_port: int) -> ClusterShape:
    """Node N (from 1) listens on `port + 2(N-1)`, its controller on `controller_port + 2(N-1)`:
    with the defaults 9092/9093, 9094/9095, 9096/9097."""
    return ClusterShape(
        cluster_id=new_cluster_id(),
        ports=tuple(port + 2 * i for i in range(size)),
        controller_ports=tuple(controller_port + 2 * i for i in range(size)),
    )


@dataclass(frozen=True)
class LocalCluster:
    data_dir: Path
    shape: ClusterShape
    kafka_home: Path | None = None
    heap: str = "512m"

    @property
    def nodes(self) -> list[LocalBroker]:
        voters = tuple((i + 1, port) for i, port in enumerate(self.shape.controller_ports))
        return [
            LocalBroker(
                data_dir=self.data_dir / f"node-{i + 1}", port=port, controller_port=controller_port,
                kafka_home=self.kafka_home, heap=self.heap, node_id=i + 1, voters=voters,
                cluster_id=self.shape.cluster_id,
            )
            for i, (port, controller_port) in enumerate(zip(self.shape.ports, self.shape.controller_ports))
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def running_pid(self) -> int | None:
        """The pid of the first running node, None when none runs."""
        return next((pid for pid in (node.running_pid() for node in self.nodes) if pid is not None), None)

    def start(self, wait_seconds: float = 120.0) -> int:
        """Starts every node that is not running, all at once (a controller quorum needs a
        majority before any node finishes starting), and waits until each accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / SHAPE_FILE).write_text(self.shape.to_json())
        launched = []
        for node in self.nodes:
            if node.running_pid() is None:
                node.write_properties()
                node.format_storage()
                launched.append((node, *node.launch()))
        try:
            for node, proc, log_offset in launched:
                node.wait_ready(wait_seconds, proc=proc, log_offset=log_offset)
            for node in self.nodes:
                node.wait_ready(wait_seconds)
        except BrokerError:
            self.stop()
            raise
        pid = self.running_pid()
        assert pid is not None
        return pid

    def stop(self, wait_seconds: float = 30.0) -> bool:
        """Stops every node; False when none was running. Idempotent. All nodes are asked at
        once: one by one, the last node waits in vain for a controller quorum to let it go."""
        asked = [(node, node.signal_stop()) for node in self.nodes]
        deadline = time.monotonic() + wait_seconds
        for node, pid in asked:
            if pid is not None:
                node.await_stop(pid, deadline)
        return any(pid is not None for _, pid in asked)

    def status(self) -> str:
        lines = [f"node {node.node_id}: {node.status()}" for node in self.nodes]
        running = sum(line.split(": ", 1)[1].startswith("running") for line in lines)
        head = "running" if running == self.shape.size else ("degraded" if running else "stopped")
        return f"{head} ({running} of {self.shape.size} nodes)\n" + "\n".join(lines)


def local_bootstrap(kafka_dir: Path, port: int) -> str:
    """Where services find the local Kafka: every node of a local cluster, else the single broker."""
    shape = ClusterShape.read(kafka_dir)
    if shape is None:
        return f"127.0.0.1:{port}"
    return ",".join(f"127.0.0.1:{node_port}" for node_port in shape.ports)
