"""A single-node Apache Kafka (KRaft) run by Touchpoint itself, or one node of a local cluster
(`shared/kafka/local_cluster.py`).

The broker jars come from `$KAFKA_HOME/libs` when that is set, otherwise Maven resolves them
from Maven Central with `deploy/kafka/pom.xml` into a per-user cache that every clone shares.
Storage is formatted once; the broker runs detached, with a pid file and a log file in its
data directory, so `touchpoint kafka start|stop|status` work across invocations.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import base64
from dataclasses import dataclass
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "kafka"


class BrokerError(RuntimeError):
    """The local broker could not be prepared, started or stopped; the message says what to do."""


@dataclass(frozen=True)
class LocalBroker:
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    kafka_home: Path | None = None
    heap: str = "768m"
    auto_create_topics: bool = False
    node_id: int = 1
    # (node id, controller port) of every node of a local cluster; empty for a single node
    voters: tuple[tuple[int, int], ...] = ()
    cluster_id: str | None = None
    # (user, password) of a SASL_PLAINTEXT client listener on `port` (SCRAM-SHA-256/512 and
    # PLAIN), as managed clusters require; the broker then talks to itself on `port + 1`
    sasl_users: tuple[tuple[str, str], ...] = ()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "data"

    # ---- preparation -------------------------------------------------------------------

    def classpath(self) -> str:
        return str(resolve_jars(self.kafka_home)) + "/*"

    @property
    def replication(self) -> int:
        """Replicas of internal topics: as many nodes as there are, at most three."""
        return min(3, len(self.voters)) if self.voters else 1

    def quorum_line(self) -> str:
        if not self.voters:
            return f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        voters = ",".join(f"{node}@127.0.0.1:{port}" for node, port in self.voters)
        return f"controller.quorum.voters={voters}"

    def listener_lines(self) -> str:
        if not self.sasl_users:
            return (f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}\n"
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
        internal = self.port + 1
        plain_users = " ".join(f'user_{user}="{password}"' for user, password in self.sasl_users)
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return "\n".join([
            f"listeners=CLIENTS://127.0.0.1:{self.port},PLAINTEXT://127.0.0.1:{internal},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=CLIENTS://127.0.0.1:{self.port},PLAINTEXT://127.0.0.1:{internal}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
            f"listener.name.clients.scram-sha-256.sasl.jaas.config={scram}",
            f"listener.name.clients.scram-sha-512.sasl.jaas.config={scram}",
            "listener.name.clients.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
        ])

    def scram_arguments(self) -> list[str]:
        """SCRAM credentials are stored in the cluster metadata when the storage is formatted."""
        return [argument for user, password in self.sasl_users for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
                for argument in ("--add-scram", f"{mechanism}=[name={user},password={password}]")]

    def write_properties(self) -> None:
        template = (DEPLOY_DIR / "server.properties.template").read_text()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(
            template.format(
                node_id=self.node_id,
                quorum=self.quorum_line(),
                listeners=self.listener_lines(),
                log_dirs=self.log_dirs.resolve(),
                replication=self.replication,
                min_isr=min_insync_for(self.replication),
                auto_create=str(self.auto_create_topics).lower(),
            )
        )

    def format_storage(self) -> None:
        """Formats the KRaft storage once; an already formatted directory is left as it is."""
        if (self.log_dirs / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or new_cluster_id()
        # a single node bootstraps its own dynamic quorum; cluster nodes share a static voter set
        quorum = [] if self.voters else ["--standalone"]
        cmd = [
            java_binary(), "-cp", self.classpath(), *log4j_options(),
            "kafka.tools.StorageTool", "format", *quorum, *self.scram_arguments(),
            f"--cluster-id={cluster_id}", "-c", str(self.properties_file),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage in {self.log_dirs} failed: {java_failure(result.stderr or result.stdout)}"
            )

    # ---- lifecycle ---------------------------------------------------------------------

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _process_alive(pid):
            return None
        return pid

    def start(self, wait_seconds: float = 90.0) -> int:
        """Starts the broker detached and returns its pid once it accepts connections."""
        pid = self.running_pid()
        if pid is not None:
            self.wait_ready(wait_seconds)
            return pid
        proc, log_offset = self.launch()
        try:
            self.wait_ready(wait_seconds, proc=proc, log_offset=log_offset)
        except BrokerError:
            self.stop()
            raise
        return proc.pid

    def launch(self) -> tuple[subprocess.Popen, int]:
        """Starts the broker process without waiting; returns it and where its log begins.

        The nodes of a cluster are launched together: none finishes starting before a majority
        of the controllers is up."""
        if port_open(self.port):
            raise BrokerError(
                f"port {self.port} is already in use by another process; stop it, or set "
                "TOUCHPOINT_KAFKA_PORT to a free port, or point TOUCHPOINT_KAFKA_BOOTSTRAP at it"
            )
        self.write_properties()
        self.format_storage()
        log = open(self.log_file, "ab")
        log_offset = log.tell()
        cmd = [
            java_binary(), f"-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", *log4j_options(),
            "-cp", self.classpath(), "kafka.Kafka", str(self.properties_file),
        ]
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(str(proc.pid))
        return proc, log_offset

    def wait_ready(
        self, wait_seconds: float, proc: subprocess.Popen | None = None, log_offset: int | None = None
    ) -> None:
        """Waits until the broker accepts connections (and, for a fresh start, logged that it started)."""
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with status {proc.returncode} while starting; "
                    f"see {self.log_file}: {_last_line(self.log_file)}"
                )
            started = log_offset is None or _log_says_started(self.log_file, log_offset)
            if started and port_open(self.port):
                return
            time.sleep(0.2)
        raise BrokerError(f"Kafka did not become ready in {wait_seconds:.0f} s; see {self.log_file}")

    def stop(self, wait_seconds: float = 30.0) -> bool:
        """Stops the broker; returns False when none was running. Idempotent."""
        pid = self.signal_stop()
        if pid is not None:
            self.await_stop(pid, time.monotonic() + wait_seconds)
        return pid is not None

    def signal_stop(self) -> int | None:
        """Asks the broker to shut down (SIGTERM); its pid, or None when none was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return None
        _signal_group(pid, signal.SIGTERM)
        return pid

    def await_stop(self, pid: int, deadline: float) -> None:
        """Waits for a broker asked to stop until `deadline` (monotonic), then kills it."""
        while time.monotonic() < deadline and _process_alive(pid):
            time.sleep(0.2)
        if _process_alive(pid):
            _signal_group(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "stopped"
        return f"running (pid {pid}, {self.bootstrap})" if port_open(self.port) else f"starting (pid {pid})"


def min_insync_for(replication: int) -> int:
    """Acknowledged writes survive the loss of one node wherever there are three replicas."""
    return 2 if replication >= 3 else 1


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# ---- jar resolution -------------------------------------------------------------------------


def jar_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    digest = hashlib.sha256((DEPLOY_DIR / "pom.xml").read_bytes()).hexdigest()[:12]
    return base / "touchpoint" / f"kafka-{digest}" / "libs"


def resolve_jars(kafka_home: Path | None) -> Path:
    """Returns a directory holding the broker's jars, resolving them with Maven when needed."""
    if kafka_home is not None:
        libs = Path(kafka_home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise BrokerError(f"KAFKA_HOME={kafka_home} has no libs/kafka_2.13-*.jar; unset it to use Maven")
        return libs
    libs = jar_cache_dir()
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven is needed to fetch the Kafka jars: install it (apt-get install -y maven), "
            "or set KAFKA_HOME to an unpacked Apache Kafka, or set TOUCHPOINT_KAFKA_BOOTSTRAP "
            "to an existing cluster"
        )
    java_binary()
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(DEPLOY_DIR / "pom.xml"), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise BrokerError("Maven could not resolve the Kafka jars: " + " | ".join(tail))
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (libs / ".complete").touch()
    return libs


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError(
            "Java 17 or newer is needed to run Kafka: install it (apt-get install -y "
            "openjdk-17-jre-headless), or set TOUCHPOINT_KAFKA_BOOTSTRAP to an existing cluster"
        )
    return found


def log4j_options() -> list[str]:
    return [f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.properties'}"]


# ---- small process and socket helpers -------------------------------------------------------


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def java_failure(output: str) -> str:
    """The line of a Java tool's output that says what went wrong: the first naming an exception
    or error, not the last frame of its stack trace."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if not line.startswith("at ") and ("Exception" in line or "Error" in line or "error" in line.lower()):
            return line
    return lines[-1] if lines else "no output"


def _process_alive(pid: int) -> bool:
    # a stopped child may linger as a zombie; /proc tells us it is no longer running
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _log_says_started(log_file: Path, offset: int) -> bool:
    try:
        with open(log_file, "rb") as fh:
            fh.seek(offset)
            return b"Kafka Server started" in fh.read()
    except FileNotFoundError:
        return False


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    errors = [line for line in lines if " ERROR " in line]
    return (errors or lines or ["(empty log)"])[-1][:300]
