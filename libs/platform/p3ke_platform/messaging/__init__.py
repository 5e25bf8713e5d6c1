"""Kafka in and out: outbox + relay (publish exactly what was committed), inbox (apply each event once),
dead letters (never drop, never crash), and the faust worker that ties them together."""
