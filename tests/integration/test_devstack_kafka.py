"""The local broker's storage format accepts every cluster id it can generate."""

from __future__ import annotations

import subprocess
from pathlib import Path

from p3ke_platform.devstack.kafka import KafkaBroker, ensure_jars, format_command


def test_a_cluster_id_starting_with_a_dash_formats(tmp_path: Path) -> None:
    # base64url ids start with "-" one time in 64; CI once drew one and the broker did not start
    cluster_id = "-B8Y7ysbRyiqs1u8D04gTw"
    broker = KafkaBroker(tmp_path / "kafka", port=19092, controller_port=19093)
    logs = tmp_path / "kafka" / "logs"
    props = tmp_path / "server.properties"
    props.write_text(broker._properties(logs))
    java = ["java", "-cp", f"{ensure_jars()}/*"]
    result = subprocess.run(format_command(java, cluster_id, props), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"cluster.id={cluster_id}" in (logs / "meta.properties").read_text()
