"""Kafka in and out: outbox + relay (publish exactly what was committed), inbox (apply each event once),
dead letters (never drop, never crash), and the worker that ties them together (worker: what it does with
a batch; kafka_worker and faust_worker: the two clients that read the batches)."""
