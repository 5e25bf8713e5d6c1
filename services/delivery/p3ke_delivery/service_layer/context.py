"""What delivery's handlers, routes and the preparer share, built once per process by the runtime
(`ServiceSpec.context`): the settings, the clock and the agreement policy (from the platform), the
handover storage, the server key, the trust anchors, the signatory mapping and the region names
(the bundled Kemendagri list, for the criteria in words on the BAST).

Each is loaded on first use (a process that never verifies a signature never needs the trust
configuration); `check()` loads at start-up what every process needs, and the trust configuration in
production, where a missing or development one must stop start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from p3ke_delivery.adapters.certificates import (
    SignatoryCertificates,
    is_development,
    load_crls,
    load_mapping,
    load_trust_anchors,
)
from p3ke_delivery.adapters.keys import ServerKeys, load_or_create_key
from p3ke_delivery.adapters.orm import data_keys as data_keys_table
from p3ke_delivery.adapters.storage import Storage
from p3ke_delivery.config import DeliverySettings
from p3ke_platform.envelope import DataKeyStore, load_kek_ring
from p3ke_platform.reference.wilayah import Regions, load_regions
from p3ke_platform.service_context import ServiceContext, utc_now
from p3ke_platform.settings import ConfigurationError

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

    from p3ke_platform.service import Runtime


class DeliveryContext(ServiceContext[DeliverySettings]):
    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(runtime, clock=clock)
        self._lock = threading.Lock()

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings.storage_dir)

    @cached_property
    def keys(self) -> ServerKeys:
        with self._lock:
            create = self.settings.env != "production"
            return ServerKeys(load_or_create_key(self.settings.server_key_path, create=create))

    @cached_property
    def data_keys(self) -> DataKeyStore:
        """Each handover's data key, wrapped under the KEK ring (P3KE_KEK_FILE; required in production)."""
        with self._lock:
            return DataKeyStore(data_keys_table, load_kek_ring(self.settings))

    @cached_property
    def regions(self) -> Regions:
        return load_regions()

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
        """Load everything now, so that bad configuration stops start-up instead of a later request: the
        policy, the server key and the KEK ring always; the trust configuration in production only (in development it
        may be written later, by `p3ke bast dev-ca`, and is loaded on the first signature)."""
        super().check()
        _ = (self.keys, self.data_keys)
        if self.settings.env == "production":
            _ = (self.trust_anchors, self.signatory_certificates, load_crls(self.settings.crl_paths))
