"""What the delivery use cases work with, built once per process from the Runtime.

The agreement policy, the server key, the trust anchors and the signatory mapping are loaded on
first use (a process that never verifies a signature never needs the trust configuration), and
`now` is a function so that tests can move the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from p3ke_delivery.adapters.certificates import (
    SignatoryCertificates,
    is_development,
    load_mapping,
    load_trust_anchors,
)
from p3ke_delivery.adapters.keys import ServerKeys, load_or_create_key
from p3ke_delivery.adapters.storage import Storage
from p3ke_delivery.config import DeliverySettings, delivery_settings
from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.settings import ConfigurationError
from p3ke_platform.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

    from p3ke_platform.service import Runtime


class DeliveryContext:
    def __init__(self, runtime: Runtime, *, now: Callable[[], datetime] | None = None) -> None:
        self.runtime = runtime
        self.settings: DeliverySettings = delivery_settings(runtime.settings)
        self.storage = Storage(self.settings.storage_dir)
        self.now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        with self.runtime.unit_of_work() as uow:
            yield uow

    @cached_property
    def policy(self) -> Policy:
        return Policy(load_agreement(self.settings.agreement_dir, self.settings.agreement_include_examples))

    @cached_property
    def keys(self) -> ServerKeys:
        with self._lock:
            create = self.settings.env != "production"
            return ServerKeys(load_or_create_key(self.settings.server_key_path, create=create))

    @cached_property
    def trust_anchors(self) -> list[asn1_x509.Certificate]:
        anchors = load_trust_anchors(self.settings.trust_anchors_path)
        if self.settings.env == "production" and any(is_development(a) for a in anchors):
            raise ConfigurationError("P3KE_DELIVERY_TRUST_ANCHORS: a development CA is never trusted in production")
        return anchors

    @cached_property
    def signatory_certificates(self) -> SignatoryCertificates:
        mapping = load_mapping(self.settings.signatory_certificates_path)
        if self.settings.env == "production" and mapping.development:
            raise ConfigurationError("P3KE_DELIVERY_SIGNATORY_CERTIFICATES: a development mapping "
                                     "(written by `p3ke bast dev-ca`) is never used in production")
        return mapping


    def check(self) -> None:
        """Load everything now, so that bad configuration stops start-up instead of a later request."""
        _ = (self.policy, self.keys, self.trust_anchors, self.signatory_certificates)


def context_for(runtime: Runtime) -> DeliveryContext:
    """One context per Runtime (the API's routers and the preparer thread share it)."""
    ctx = getattr(runtime, "_delivery_context", None)
    if ctx is None:
        ctx = DeliveryContext(runtime)
        runtime._delivery_context = ctx  # type: ignore[attr-defined]
    return ctx
