"""An ASGI app under uvicorn in a background thread, on a loopback port: for tests that need a real HTTP server
in their own process (a browser, a CLI calling a service)."""

from __future__ import annotations

import threading
import time
from typing import Any, Literal, Self

from p3ke_platform.devstack.ports import free_port


class ThreadedServer:
    """`with ThreadedServer(app) as server:` serves `app` at `server.url` until the block ends."""

    def __init__(self, app: Any, *, port: int | None = None, name: str = "test-api",
                 lifespan: Literal["on", "off"] = "on") -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{self.thread.name} did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
