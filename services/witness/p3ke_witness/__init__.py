"""A witness of the audit log: verifies and cosigns its checkpoints (C2SP tlog-witness), refuses forks and rollbacks."""
