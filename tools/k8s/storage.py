"""Least-privilege storage in deploy/k8s (issue 18): one claim per kind of data, written by the one service that
owns it, mounted read-only by the services that only read it, and nothing at all in audit.

KINDS is the map deploy/k8s/README.md ("Storage") shows as a table. Each kind also names the artefacts of the
retention schedule (p3ke_platform.retention.Kind) whose files lie on its claim: the owner's disposal job
(`retention-disposal`, a "jobs" loop: in the API process while P3KE_JOBS_IN_API is true, else in
`python -m p3ke_<service> jobs`) destroys them, so the container that runs it mounts exactly those claims read-write
and every other claim it mounts read-only (check_disposal_mounts). Every pod that mounts a kind mounts it at
the same path, because events name these files by absolute path (a snapshot's URI, an extract's URI). The
data directory itself (P3KE_DATA_DIR) is each pod's own scratch space (an emptyDir: DuckDB spill, the
worker's local state), never a claim.

Each check_* function takes rendered documents and returns a list of problems (empty = fine), like
tools.k8s.manifests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from p3ke_platform.retention import DEFAULT_SCHEDULE, OWNERS, Kind, load_schedule
from p3ke_platform.settings import Settings
from tools.k8s.manifests import container_environment, kind_of, named, pod_labels, pod_spec, service_workloads

DATA_DIR = "/var/lib/p3ke/data"
PathOf = Callable[[Any], Path]  # a service's settings -> a path


@dataclass(frozen=True)
class DataKind:
    claim: str
    what: str
    owner: str  # the one service that writes it (read-write mount)
    readers: tuple[str, ...]  # services that only read it (read-only mount)
    mount_path: str  # the same in every pod that mounts it
    # service -> the path its settings use for this kind, which must be mount_path
    at: Mapping[str, PathOf] = field(default_factory=dict)
    # service -> a root setting under which it accepts these files, which must contain mount_path
    within: Mapping[str, PathOf] = field(default_factory=dict)
    # the retention schedule's kinds of artefact whose files lie here: the owner's disposal job destroys them
    disposes: tuple[Kind, ...] = ()


KINDS: tuple[DataKind, ...] = (
    DataKind("p3ke-ingest-files", "uploads as received, validation work files, validation findings", "ingest", (),
             f"{DATA_DIR}/ingest", at={"ingest": lambda s: s.ingest_dir},
             disposes=(Kind.RAW_UPLOAD, Kind.REJECTED_UPLOAD, Kind.FINDINGS)),
    DataKind("p3ke-snapshots", "published Parquet snapshots (individuals, families)", "ingest",
             ("targeting", "feedback"), f"{DATA_DIR}/ingest/snapshots",
             at={"ingest": lambda s: s.ingest_dir / "snapshots"},  # p3ke_ingest.adapters.storage's layout
             within={"feedback": lambda s: s.shared_root},
             disposes=(Kind.SUPERSEDED_SNAPSHOT, Kind.CURRENT_SNAPSHOT)),
    DataKind("p3ke-extracts", "extract files (Parquet), one per accepted request", "targeting",
             ("delivery", "feedback"), f"{DATA_DIR}/extracts",
             at={"targeting": lambda s: s.extracts_dir, "delivery": lambda s: s.extract_root},
             within={"feedback": lambda s: s.shared_root}, disposes=(Kind.EXTRACT,)),
    DataKind("p3ke-selection-ledgers", "subject references of each extract's recipients", "targeting", (),
             f"{DATA_DIR}/targeting",
             at={"targeting": lambda s: Path(s.data_dir) / "targeting"},  # p3ke_targeting ...extracts.paths_for
             disposes=(Kind.SELECTION_LEDGER,)),
    DataKind("p3ke-handover-files", "BAST versions, encrypted packages, subject-reference files", "delivery", (),
             f"{DATA_DIR}/delivery", at={"delivery": lambda s: s.storage_dir},
             disposes=(Kind.PACKAGE, Kind.SUBJECT_REFERENCES)),
    DataKind("p3ke-feedback-files", "feedback batches as uploaded, matched rows, findings", "feedback", (),
             f"{DATA_DIR}/feedback", at={"feedback": lambda s: s.storage_dir},
             disposes=(Kind.FEEDBACK_RAW,)),
)
CLAIMS = {k.claim: k for k in KINDS}


@dataclass(frozen=True)
class Mount:
    volume: str
    path: str
    read_only: bool
    claim: str | None  # the PVC behind it, if any
    empty_dir: bool


def mounts(doc: dict) -> list[tuple[str, Mount]]:
    """(container name, mount) of every volume mount of a workload's containers."""
    spec = pod_spec(doc) or {}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out = []
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        for m in c.get("volumeMounts", []):
            vol = volumes.get(m["name"], {})
            claim = vol.get("persistentVolumeClaim", {}).get("claimName")
            path = m["mountPath"].rstrip("/") + (f" (subPath {m['subPath']})" if m.get("subPath") else "")
            out.append((c["name"], Mount(m["name"], path, bool(m.get("readOnly")), claim, "emptyDir" in vol)))
    return out


def service_of(doc: dict) -> str:
    return pod_labels(doc).get("app.kubernetes.io/name", "")


def role_of(doc: dict) -> str:
    return pod_labels(doc).get("app.kubernetes.io/component", "")


def check_storage(docs: list[dict]) -> list[str]:
    """Each service workload mounts exactly the kinds it owns (read-write) and reads (read-only), at their
    paths; audit and the migration Jobs mount no claim; every rendered claim is a kind of KINDS."""
    problems = []
    for doc in service_workloads(docs):
        svc, role = service_of(doc), role_of(doc)
        have = mounts(doc)
        claims = [(c, m) for c, m in have if m.claim]
        if svc == "audit" or role == "migration":
            for c, m in claims:
                problems.append(f"{named(doc)} container {c}: mounts claim {m.claim} at {m.path}, but "
                                f"{'audit reads no data files' if svc == 'audit' else 'a migration reads no files'}")
            continue
        for c, m in claims:
            kind = CLAIMS.get(m.claim or "")
            if kind is None:
                problems.append(f"{named(doc)} container {c}: mounts claim {m.claim}, which holds no known kind of "
                                "data (tools/k8s/storage.py KINDS)")
            elif svc != kind.owner and svc not in kind.readers:
                problems.append(f"{named(doc)} container {c}: mounts {m.claim} ({kind.what}), which {svc} "
                                "neither writes nor reads")
        for kind in KINDS:
            if svc != kind.owner and svc not in kind.readers:
                continue
            containers = {c for c, _ in have}
            for c in sorted(containers):
                found = [m for name, m in claims if name == c and m.claim == kind.claim]
                if not found:
                    problems.append(f"{named(doc)} container {c}: does not mount {kind.claim} at {kind.mount_path}")
                for m in found:
                    if m.path != kind.mount_path:
                        problems.append(f"{named(doc)} container {c}: mounts {kind.claim} at {m.path}, not at "
                                        f"{kind.mount_path} (where events name its files)")
                    if svc == kind.owner and m.read_only:
                        problems.append(f"{named(doc)} container {c}: mounts {kind.claim} read-only, but {svc} "
                                        "writes it")
                    if svc != kind.owner and not m.read_only:
                        problems.append(f"{named(doc)} container {c}: mounts {kind.claim} read-write, but {svc} "
                                        f"only reads it (readOnly: true)")
    return problems


def check_claims(docs: list[dict], components: tuple[str, ...]) -> list[str]:
    """Each claim is mounted read-write by exactly one service, its owner; with the shared-storage component,
    every kind's claim is rendered, ReadWriteMany (an API's pods and a worker's run on any node at once)."""
    problems = []
    writers: dict[str, set[str]] = {}
    for doc in service_workloads(docs):
        for _, m in mounts(doc):
            if m.claim and not m.read_only:
                writers.setdefault(m.claim, set()).add(service_of(doc))
    rendered = {d["metadata"]["name"]: d for d in kind_of(docs, "PersistentVolumeClaim")}
    for claim in sorted(set(writers) | set(rendered) | set(CLAIMS)):
        kind = CLAIMS.get(claim)
        if kind is None:
            problems.append(f"claim {claim} holds no known kind of data (tools/k8s/storage.py KINDS)")
            continue
        if writers.get(claim, set()) != {kind.owner}:
            problems.append(f"claim {claim} is mounted read-write by {sorted(writers.get(claim, set()))}, "
                            f"not by its owner {kind.owner} alone")
        if "shared-storage" in components:
            doc = rendered.get(claim)
            if doc is None:
                problems.append(f"shared-storage is included but renders no PersistentVolumeClaim {claim}")
            elif doc["spec"].get("accessModes") != ["ReadWriteMany"]:
                problems.append(f"{named(doc)}: accessModes {doc['spec'].get('accessModes')}, not [ReadWriteMany]")
    return problems


def check_disposal_kinds() -> list[str]:
    """Every kind of artefact of the retention schedule lies on exactly one claim, whose owner is the service the
    (packaged) schedule says disposes of it."""
    problems = []
    schedule = load_schedule(DEFAULT_SCHEDULE)
    for kind in Kind:
        claims = [k for k in KINDS if kind in k.disposes]
        if len(claims) != 1:
            problems.append(f"{kind.value}: on {len(claims)} claims (tools/k8s/storage.py KINDS), not one")
            continue
        owner = schedule.rule(kind).owner
        if claims[0].owner != owner:
            problems.append(f"{kind.value}: the schedule's owner {owner} disposes of it, but {claims[0].claim} is "
                            f"written by {claims[0].owner}")
    return problems


def _false(value: str | None) -> bool:
    return (value or "").strip().lower() in ("0", "false", "no", "off", "f", "n")


def disposal_containers(docs: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, container) of each container that runs its service's "jobs" loops, among them the disposal job:
    `jobs`, or `api` while P3KE_JOBS_IN_API (default true) is not false in its rendered environment."""
    out = []
    for doc in service_workloads(docs):
        for c in (pod_spec(doc) or {}).get("containers", []):
            role = (c.get("args") or [""])[0]
            jobs_in_api = not _false(container_environment(docs, c).get("P3KE_JOBS_IN_API"))
            if role == "jobs" or (role == "api" and jobs_in_api):
                out.append((doc, c))
    return out


def check_disposal_mounts(docs: list[dict]) -> list[str]:
    """Each service that owns artefacts has a container that runs its disposal job, and that container mounts
    read-write exactly the claims of the kinds its service disposes of (KINDS' `disposes`), no other claim."""
    problems = []
    running = disposal_containers(docs)
    for svc in OWNERS:
        if not any(service_of(doc) == svc for doc, _ in running):
            problems.append(f"{svc}: no container runs its disposal job (`api` with P3KE_JOBS_IN_API, or `jobs`)")
    for doc, c in running:
        svc = service_of(doc)
        if svc not in OWNERS:
            continue
        disposes = {k.claim for k in KINDS if k.owner == svc and k.disposes}
        writable = {m.claim for name, m in mounts(doc) if name == c["name"] and m.claim and not m.read_only}
        for claim in sorted(disposes - writable):
            problems.append(f"{named(doc)} container {c['name']}: runs the disposal job but does not mount {claim} "
                            f"read-write ({CLAIMS[claim].what}: it could not delete them)")
        for claim in sorted(writable - disposes):
            problems.append(f"{named(doc)} container {c['name']}: mounts {claim} read-write, but {svc} disposes of "
                            "nothing there (readOnly: true)")
    return problems


def manifest_path(path: Path, doc: dict) -> str:
    """The path inside the container that `path` stands for: tools.k8s.manifests.lay_out_mounts lays out each
    mount of a container at `<...>/<Kind>-<name>-<container>/<i>-<volume>` (the i-th volumeMount)."""
    parts = path.parts
    for c in (pod_spec(doc) or {}).get("containers", []):
        prefix = f"{doc['kind']}-{doc['metadata']['name']}-{c['name']}"
        if prefix in parts:
            at = parts.index(prefix)
            if at + 1 < len(parts):
                index = int(parts[at + 1].split("-", 1)[0])
                mount = c["volumeMounts"][index]["mountPath"].rstrip("/")
                return str(PurePosixPath(mount, *parts[at + 2:]))
    return str(path)


def settings_match_mounts(doc: dict, settings: Settings) -> list[str]:
    """For check_settings_accept_environment(then=...): the paths a container's settings use for each kind are
    that kind's mounts, and its data directory is scratch space (an emptyDir), not a claim."""
    problems = []
    svc = service_of(doc)
    spec = pod_spec(doc) or {}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    data_dir = manifest_path(Path(settings.data_dir), doc)
    scratch = [m for c in spec.get("containers", []) for m in c.get("volumeMounts", [])
               if "emptyDir" in volumes.get(m["name"], {})
               and PurePosixPath(data_dir).is_relative_to(m["mountPath"].rstrip("/"))]
    if not scratch:
        problems.append(f"{named(doc)}: P3KE_DATA_DIR {data_dir} is not in an emptyDir (each pod's own scratch "
                        "space; the kinds of data have claims of their own)")
    if role_of(doc) == "migration":
        return problems
    for kind in KINDS:
        if svc in kind.at:
            where = manifest_path(kind.at[svc](settings), doc)
            if where != kind.mount_path:
                problems.append(f"{named(doc)}: its settings put {kind.what} at {where}, but {kind.claim} is "
                                f"mounted at {kind.mount_path}")
        if svc in kind.within:
            root = manifest_path(kind.within[svc](settings), doc)
            if not PurePosixPath(kind.mount_path).is_relative_to(root):
                problems.append(f"{named(doc)}: its settings accept {kind.what} only under {root}, but "
                                f"{kind.claim} is mounted at {kind.mount_path}")
    return problems


def extract_roots(docs: list[dict]) -> dict[str, str | None]:
    """`Deployment/<name> container <c>` -> P3KE_DELIVERY_EXTRACT_ROOT in its rendered environment, for delivery."""
    out = {}
    for doc in service_workloads(docs):
        if service_of(doc) != "delivery" or doc["kind"] != "Deployment":
            continue
        for c in pod_spec(doc)["containers"]:
            out[f"{named(doc)} container {c['name']}"] = container_environment(docs, c).get(
                "P3KE_DELIVERY_EXTRACT_ROOT")
    return out
