"""The witness's Prometheus metrics (per log origin)."""

from prometheus_client import Counter, Gauge

COSIGNED = Counter("p3ke_witness_cosigned_total", "checkpoints this witness cosigned", ["origin"])
ALARMS = Counter("p3ke_witness_alarms_total", "forks and rollbacks this witness refused (each attempt)",
                 ["origin", "kind"])
REFUSED = Counter("p3ke_witness_refused_total", "add-checkpoint requests answered other than 200", ["status"])
SIZE = Gauge("p3ke_witness_cosigned_size", "the size of the latest checkpoint this witness cosigned", ["origin"])
