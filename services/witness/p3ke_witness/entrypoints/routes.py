"""The witness's routers (imported only by the API process)."""

from p3ke_witness.entrypoints import api, protocol

routers = [protocol.router, api.router]
