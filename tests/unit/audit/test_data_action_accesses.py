"""Every data action of the agreement has a known record in the audit log, so the violations view can tell
when one happened after the agreement ended (and a new data action cannot be added without saying how)."""

from __future__ import annotations

from p3ke_audit.service_layer.queries import DATA_ACTION_ACCESSES
from p3ke_platform.agreement import DATA_ACTIONS


def test_each_data_action_maps_to_the_accesses_services_record() -> None:
    assert set(DATA_ACTION_ACCESSES) == set(DATA_ACTIONS)
    recorded = {action for accesses in DATA_ACTION_ACCESSES.values() for action, _ in accesses}
    # duties that outlive the agreement (Art. 8(3)) are never among them
    assert recorded.isdisjoint({"match", "read", "export", "erase", "refusal"})
