"""What the witness's routes and command line share, built once per process by the runtime: its settings, its
signing key, the witnessed logs' keys, the database and a clock (tests move it).

The witness signs no events and reads no agreement, so `check` loads only what it uses (not the shared event
keys): a bad key file or a bad log key stops start-up."""

from __future__ import annotations

from functools import cached_property

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.logging import get_logger
from p3ke_platform.service_context import ServiceContext
from p3ke_platform.settings import ConfigurationError
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.note import CheckpointError
from p3ke_witness.adapters.keys import witness_key
from p3ke_witness.config import WitnessSettings
from p3ke_witness.domain.logs import LogKey, trusted_logs

log = get_logger(__name__)


class WitnessContext(ServiceContext[WitnessSettings]):
    @cached_property
    def key(self) -> Ed25519PrivateKey:
        return witness_key(self.settings)

    @cached_property
    def witness(self) -> Witness:
        """This witness as verifiers know it (its `vkey` is what a log and an auditor are configured with)."""
        return Witness(self.settings.witness_name, self.key.public_key())

    @cached_property
    def logs(self) -> dict[str, list[LogKey]]:
        """The witnessed logs' checkpoint verifier keys, by origin."""
        try:
            return trusted_logs(self.settings.log_keys())
        except (ValueError, CheckpointError) as exc:
            raise ConfigurationError(f"P3KE_WITNESS_LOGS: {exc}") from None

    def check(self) -> None:
        _ = self.witness
        if not self.logs:
            log.warning("no log to witness: every add-checkpoint is answered 404 (set P3KE_WITNESS_LOGS)")
        log.info("witness ready", witness=self.witness.vkey, logs=sorted(self.logs))
