"""A real single-node Apache Kafka broker (KRaft) run from the jars Maven Central publishes.

The jars are fetched once with Maven (`tools/kafka/pom.xml`) into a cache keyed by the POM's hash;
each broker gets its own ports and its own data directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from p3ke_platform.devstack.ports import free_port, wait_for_port

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.server.name = kafka.server.KafkaServer
logger.server.level = INFO
"""


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "tools" / "kafka" / "pom.xml").exists():
            return parent
    raise RuntimeError("cannot find tools/kafka/pom.xml above " + str(here))


def cache_dir() -> Path:
    return Path(os.environ.get("P3KE_CACHE", Path.home() / ".cache" / "p3ke"))


def ensure_jars(pom: Path | None = None) -> Path:
    """Fetch the broker's jars from Maven Central once; return the directory holding them."""
    pom = pom or repo_root() / "tools" / "kafka" / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"kafka-jars-{digest}"
    if (target / ".complete").exists():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run(
        [
            "mvn", "-B", "-q", "-f", str(pom),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ],
        check=True,
    )
    (staging / ".complete").write_text(digest)
    try:
        staging.rename(target)
    except OSError:  # another run finished first; theirs is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def format_command(java: list[str], cluster_id: str, props: Path) -> list[str]:
    """The KRaft storage-format command. The id is passed as ``--cluster-id=…``: a random base64 id
    starts with ``-`` one time in 64, and as a separate argument it would be parsed as an option."""
    return [*java, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", f"--config={props}"]


@dataclass
class KafkaBroker:
    """One broker+controller on loopback. Use as a context manager or call start()/stop()."""

    data_dir: Path
    port: int = 0
    controller_port: int = 0
    heap: str = "512m"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        jars = ensure_jars()
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        props = self.data_dir / "server.properties"
        props.write_text(self._properties(logs))
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(LOG4J2.format(log=self.data_dir / "broker.log"))
        java = ["java", f"-Dlog4j2.configurationFile=file:{log4j}", "-cp", f"{jars}/*"]
        if not (logs / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            subprocess.run(format_command(java, cluster_id, props), check=True, stdout=subprocess.DEVNULL)
        out = (self.data_dir / "broker.out").open("ab")
        self.process = subprocess.Popen(
            [*java[:1], f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC", *java[1:],
             "kafka.Kafka", str(props)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _properties(self, logs: Path) -> str:
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={logs}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "unclean.leader.election.enable=false",
            "",
        ])

    def _wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        wait_for_port(self.port, timeout)  # quietly, before the client starts logging refusals
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = (self.data_dir / "broker.out").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Kafka broker exited with {self.process.returncode}:\n{tail}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                try:
                    admin.list_topics()
                finally:
                    admin.close()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"Kafka broker on {self.bootstrap} not ready after {timeout}s: {last}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
