"""Repository tooling: scripts, and the Python helpers that tests and scripts share."""
