"""Kill it: SIGKILL of workers and relays under a stream of events, a broker restart and a database
restart mid-stream, a replay from offset 0, and poison on every topic. After each fault the same
proof: every acknowledged event applied exactly once in effect (sets of ids compared), no legitimate
event dead-lettered, consumer lag back to 0; at the end the audit log verifies.

The tests share one stack (module scope) and run in file order; each uses its own tag in its ids and
checks its own phase, and the last one checks everything the module produced.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p3ke_schemas import EVENTS, CloudEvent, DataAccess
from tests.chaos.harness import KIND_OF_TYPE, SUBJECT_KEY, WORKERS, ChaosStack, Feed, service_spec, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1800)]

POISON_NIK = "3174054107920003"  # synthetic, NIK-shaped: must never come back in a reason or a log line


def _tag(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def _assert_exactly_once(stack: ChaosStack, phase: str, report: dict[str, Any]) -> dict[str, Any]:
    tally = stack.converge()
    letters = stack.dead_letters()
    legit = stack.legit_dead_letters(letters)
    figures = {**tally.as_dict(), "legit_dead_letters": len(legit), "kills": len(stack.kills),
               "restarts": stack.restarts, "crashes": list(stack.crashes), "lags": stack.lags()}
    report[phase] = figures
    assert tally.lost == 0, f"lost effects: {tally.missing_examples}"
    assert tally.duplicates == 0, f"duplicate effects: {tally.duplicate_examples}"
    assert tally.unexpected == 0
    assert legit == [], [(x["topic"], x["consumer"], x["reason"]) for x in legit[:5]]
    return figures


def _stream(stack: ChaosStack, tag: str, events: int, seconds: float) -> threading.Thread:
    assert stack.feed is not None
    thread = threading.Thread(target=stack.feed.stream, args=(tag, events, seconds), daemon=True)
    thread.start()
    stack.write_through_outbox(tag, max(1, events // 4), seconds)
    return thread


def test_kill9_of_workers_and_relays_under_load(stack: ChaosStack, report: dict[str, Any]) -> None:
    sizes = stack.sizes
    seconds = max(5.0, sizes.kills * 2.0, sizes.events / 400)
    stream = _stream(stack, _tag("k"), sizes.events, seconds)
    workers = [n for n in sorted(stack.procs) if n.endswith("-worker")]
    relays = [n for n in sorted(stack.procs) if n.endswith("-relay")]
    stack.rng.shuffle(workers)
    stack.rng.shuffle(relays)
    victims = [n for pair in zip(workers, relays + [""] * len(workers), strict=False) for n in pair if n]
    started = time.monotonic()
    for k in range(sizes.kills):  # workers and relays in turn; each once before any twice
        time.sleep(stack.rng.uniform(0.2, 2 * seconds / max(sizes.kills, 1)) if k else stack.rng.uniform(0.5, 1.5))
        name = victims[k % len(victims)]
        proc = stack.procs[name]
        if proc.alive():
            proc.kill9()
        stack.kills.append(name)
        time.sleep(stack.rng.uniform(0.0, 0.8))  # the orchestrator notices and starts it again
        proc.start()
        stack.restarts += 1
    stream.join()
    figures = _assert_exactly_once(stack, "kill9", report)
    figures["seconds_under_fire"] = round(time.monotonic() - started, 1)
    figures["killed"] = dict(Counter(stack.kills))
    assert len(stack.kills) == sizes.kills


def _restart_mid_stream(stack: ChaosStack, prefix: str, restart: Callable[[float], None], down: float,
                        phase: str, report: dict[str, Any]) -> dict[str, Any]:
    """A restart phase: half the kill phase's events (at most 500 a second) stream while, a third of the
    way in, `restart(down)` takes something away for `down` seconds; then the exactly-once proof."""
    events = max(50, stack.sizes.events // 2)
    seconds = max(4.0, events / 500)
    stream = _stream(stack, _tag(prefix), events, seconds)
    time.sleep(seconds / 3)
    restart(down)
    stream.join()
    return _assert_exactly_once(stack, phase, report)


def test_broker_restart_mid_stream(stack: ChaosStack, report: dict[str, Any]) -> None:
    figures = _restart_mid_stream(stack, "b", stack.restart_broker, stack.sizes.broker_down, "broker_restart",
                                  report)
    figures["broker_down_seconds"] = stack.sizes.broker_down


def test_database_restart_mid_stream(stack: ChaosStack, report: dict[str, Any]) -> None:
    """PostgreSQL goes away for longer than any retry budget: workers and relays wait for it, the
    outbox keeps what was committed, and nothing is dead-lettered for the outage."""
    figures = _restart_mid_stream(stack, "d", stack.restart_database, stack.sizes.db_down, "database_restart",
                                  report)
    figures["database_down_seconds"] = stack.sizes.db_down
    figures["outbox_writer_retries"] = sum(w.retries for w in stack.writers)


def _poison(stack: ChaosStack, tag: str) -> tuple[dict[str, list[str]], dict[str, dict[str, set[str]]]]:
    """Malformed and schema-violating messages on every topic, business-level rejects, and one good
    event per topic. Returns the keys sent per topic and, per consumer and topic, the event ids it may
    apply (good and business-rejected events carry an id; malformed ones may not)."""
    feed = stack.feed
    assert feed is not None
    inputs: dict[str, list[str]] = {}
    ids: dict[str, set[str]] = {}
    for n, spec in enumerate(EVENTS):
        good = [("ce_specversion", b"1.0"), ("ce_source", b"urn:p3ke:chaos"), ("ce_type", spec.type.encode()),
                ("content-type", b"application/json")]
        cases = {
            "notjson": (b"\xff{not json", good),
            "noheaders": (b"{}", []),
            "unknowntype": (b"{}", [(k, b"p3ke.nope.v1" if k == "ce_type" else v) for k, v in good]),
            "specversion": (b"{}", [(k, b"0.3" if k == "ce_specversion" else v) for k, v in good]),
            "schema": (json.dumps({"nik": POISON_NIK, "nama": "CANARY POISON"}).encode(), good),
            "empty": (b"", good),
        }
        keys = []
        for case, (value, headers) in cases.items():
            key = f"{tag}-{n}-{case}"
            feed.send_raw(spec.topic, key, value, [*headers, ("ce_id", f"{key}-id".encode())])
            stack.poison_keys.add(key)
            stack.poison_ids.add(f"{key}-id")
            keys.append(key)
        kind = KIND_OF_TYPE[spec.type]
        event = feed.event(kind, f"{tag}-{n}", 0)
        feed.send(event, kind)
        if kind == "milestone":  # of an extract targeting never made: targeting dead-letters it, audit records it
            stack.poison_ids.add(event.id)
        ids[spec.topic] = {event.id}
        keys.append(event.key)
        inputs[spec.topic] = keys
    # rejects: a data-access in another service's name (its origin is not that service: refused unapplied),
    # and a request id reused with other content (targeting refuses it; audit records both)
    forged = feed.event("access", f"{tag}-forged", 0)
    forged = CloudEvent(type=forged.type, source="urn:p3ke:service:delivery",
                        data=DataAccess.model_validate({**forged.data.model_dump(), "service": "ingest"}))
    feed.send(forged, "access", effects=())
    stack.poison_ids.add(forged.id)
    inputs["p3ke.data-access.v1"].append(forged.key)
    ids["p3ke.data-access.v1"].add(forged.id)
    first = CloudEvent.of(Feed.request(f"{tag}-conflict", "padat_karya", quota=10), source="urn:p3ke:chaos")
    again = CloudEvent.of(Feed.request(f"{tag}-conflict", "padat_karya", quota=99), source="urn:p3ke:chaos")
    feed.send(first, "request")
    feed.producer.flush()
    feed.send(again, "request", effects={"audit"})
    stack.expected_repeats[("targeting-prepared", again.key)] += 1  # the answer: rejected, "already used"
    stack.poison_ids.add(again.id)
    inputs["p3ke.extract-requested.v1"] += [first.key, again.key]
    ids["p3ke.extract-requested.v1"] |= {first.id, again.id}
    feed.flush()
    return inputs, {"ids": ids}  # type: ignore[dict-item]


def test_poison_on_every_topic_goes_to_the_dlq_with_reasons(stack: ChaosStack, report: dict[str, Any]) -> None:
    tag = _tag("p")
    inputs, extra = _poison(stack, tag)
    ids: dict[str, set[str]] = extra["ids"]  # type: ignore[assignment]
    consumers = {stack.group(s): service_spec(s).topics for s in WORKERS}
    expected_total = sum(len(inputs[t]) for topics in consumers.values() for t in topics)

    def accounted() -> tuple[int, dict[tuple[str, str], tuple[int, int, int]]]:
        letters = [x for x in stack.dead_letters() if x["key"].startswith(tag)]
        unique = {x["origin"]: x for x in letters}.values()  # a replay may dead-letter a message again
        rows: dict[tuple[str, str], tuple[int, int, int]] = {}
        for service in WORKERS:
            group = stack.group(service)
            inbox = stack.inbox(service)
            for topic in consumers[group]:
                applied = sum(1 for i in ids[topic] if inbox.get(i))
                dlq = sum(1 for x in unique if x["consumer"] == group and x["topic"] == topic)
                rows[(group, topic)] = (len(inputs[topic]), applied, dlq)
        return sum(a + d for _, a, d in rows.values()), rows

    wait_for(lambda: accounted()[0] >= expected_total, stack.sizes.converge, "every poison message accounted for")
    stack.converge()
    total, rows = accounted()
    for (group, topic), (sent, applied, dlq) in rows.items():
        assert sent == applied + dlq, f"{group} on {topic}: {sent} in, {applied} applied, {dlq} dead-lettered"
    letters = [x for x in stack.dead_letters() if x["key"].startswith(tag)]
    reasons = {x["key"].rsplit("-", 1)[-1]: x["reason"] for x in letters if x["key"] in stack.poison_keys}
    assert "not JSON" in reasons["notjson"]
    assert "missing CloudEvents header" in reasons["noheaders"]
    assert "unknown ce_type" in reasons["unknowntype"]
    assert "ce_specversion" in reasons["specversion"]
    assert "does not match its schema" in reasons["schema"]
    assert "empty" in reasons["empty"]
    assert all(x["reason"] for x in letters), "every dead letter says why"
    assert not [x for x in letters if POISON_NIK in x["reason"] or "CANARY POISON" in x["reason"]]
    by_consumer = Counter(x["consumer"] for x in {x["origin"]: x for x in letters}.values())
    assert by_consumer[stack.group("targeting")] >= 1 + 6 * len(consumers[stack.group("targeting")])  # + conflict
    assert any("already used" in x["reason"] for x in letters if x["consumer"] == stack.group("targeting"))
    assert any("is signed by delivery's key" in x["reason"] for x in letters if x["consumer"] == stack.group("audit"))
    stack.poison_sent += sum(len(v) for v in inputs.values())
    stack.poison_expected_dlq += sum(d for _, _, d in rows.values())
    report["poison"] = {"messages": sum(len(v) for v in inputs.values()), "deliveries": total,
                        "dead_lettered": sum(d for _, _, d in rows.values()),
                        "applied": sum(a for _, a, _ in rows.values()),
                        "per_consumer_topic": {f"{g} {t}": list(v) for (g, t), v in rows.items()}}


def test_replay_from_offset_zero_changes_no_state(stack: ChaosStack, report: dict[str, Any]) -> None:
    stack.converge()
    workers = [f"{s}-worker" for s in WORKERS]
    stack.stop(workers)
    before = stack.state()
    rewound = stack.reset_groups_to_earliest()
    assert all(n > 0 for n in rewound.values()), rewound
    assert all(lag > 0 for lag in stack.lags().values())
    stack.start(workers)
    wait_for(lambda: not any(stack.lags().values()), stack.sizes.converge, "the replay to be consumed", pause=1)
    time.sleep(2)
    after = stack.state()
    changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    report["replay"] = {"events_replayed": sum(rewound.values()), "state_changes": len(changed)}
    assert changed == {}


def test_everything_applied_once_lag_zero_and_the_audit_log_verifies(stack: ChaosStack,
                                                                     report: dict[str, Any]) -> None:
    figures = _assert_exactly_once(stack, "final", report)
    env = stack.envs["audit"]
    cli = Path(sys.executable).parent / "p3ke"
    done = subprocess.run([str(cli), "audit", "verify", "--json"], env=env, capture_output=True, text=True,
                          timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    verified = done.returncode == 0 and result.get("ok")
    letters = stack.dead_letters()
    logs = "".join(p.log.read_text(errors="replace") for p in stack.procs.values())
    leaks = [needle for needle in (POISON_NIK, "CANARY POISON", SUBJECT_KEY) if needle in logs]
    report["summary"] = {
        "kills": len(stack.kills), "restarts": stack.restarts, "crashes": len(stack.crashes),
        "broker_restarts": stack.broker_restarts, "database_restarts": stack.db_restarts,
        "events_produced": figures["produced"] + stack.poison_sent,
        "events_acknowledged": figures["acknowledged"], "effects_expected": figures["expected_effects"],
        "applied": figures["applied"], "duplicates": figures["duplicates"], "lost": figures["lost"],
        "dlq": len({x["origin"] for x in letters}), "dlq_legit": figures["legit_dead_letters"],
        "repeats_on_topics_absorbed": stack.repeats_on_topics(),
        "replayed": report.get("replay", {}).get("events_replayed"),
        "replay_state_changes": report.get("replay", {}).get("state_changes"),
        "audit_verify": "ok" if verified else f"FAILED: {result or done.stderr[-500:]}",
        "audit_tree_size": result.get("tree_size"), "final_lag": sum(stack.lags().values()),
        "log_leaks": leaks,
    }
    assert verified, done.stdout + done.stderr
    assert leaks == []
    assert sum(stack.lags().values()) == 0
