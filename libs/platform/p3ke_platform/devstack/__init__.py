"""Local infrastructure for `make run` and `make test`: a real Kafka broker and PostgreSQL on loopback."""
