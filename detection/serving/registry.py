"""Model registry on an artifact store: immutable versions, the production pointer, the audit log.

Layout under the store root::

    models/<version>/manifest.json, model.txt, ...   immutable, version = content hash
    production.json                                  {"version": ..., "previous": ..., ...}
    audit/<timestamp>-<action>-<version>.json        one record per promotion or rollback

Promotion uploads the bundle, reads every file back and checks its hash, then moves the pointer
with a conditional write against the pointer it read at the start, then appends the audit record.
A failure at any step leaves the pointer, and so the serving model, where it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detection.serving.artifact import MANIFEST, Bundle, BundleError, files_of, sha256
from detection.serving.signing import SIGNATURE_FILE, signing_key_from_env
from detection.serving.stores import ArtifactStore, ArtifactStoreError

PRODUCTION = "production.json"


@dataclass(frozen=True)
class Pointer:
    version: str
    etag: str
    document: dict[str, Any]


def model_prefix(version: str) -> str:
    return f"models/{version}"


def read_production(store: ArtifactStore) -> Pointer | None:
    found = store.read_pointer(PRODUCTION)
    if found is None:
        return None
    data, etag = found
    try:
        document = json.loads(data)
        return Pointer(str(document["version"]), etag, document)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactStoreError(
            f"{store.uri}/{PRODUCTION} is unreadable ({exc}); roll back to a known version"
        ) from exc


def upload_bundle(store: ArtifactStore, bundle: Bundle) -> str:
    """Write the bundle under its immutable version prefix and verify it by reading it back.

    A version already in the store, whole and verified, is never rewritten: promoting it again
    keeps the manifest (run, time, lineage) of its first upload. The content files are fixed by
    the version (it is their hash), so a partial copy (an upload that failed half-way) is
    completed with them. The manifest, the one file that differs between two uploads of a
    version, is written last and only by a conditional create: of two promotions racing with the
    same version, one manifest wins and the other promotion verifies and uses it. The signature
    is written after the manifest it signs, by the uploader whose manifest was created."""
    prefix = model_prefix(bundle.version)
    try:
        load_version(store, bundle.version)
    except (BundleError, KeyError):
        pass  # absent, partial or corrupt: upload it
    else:
        return prefix
    content = {n: d for n, d in bundle.files.items() if n not in (MANIFEST, SIGNATURE_FILE)}
    for name, data in content.items():
        store.put(f"{prefix}/{name}", data)
    _read_back(store, prefix, content)
    if store.put_if_absent(f"{prefix}/{MANIFEST}", bundle.files[MANIFEST]):
        signed = {n: d for n, d in bundle.files.items() if n in (MANIFEST, SIGNATURE_FILE)}
        if SIGNATURE_FILE in signed:
            store.put(f"{prefix}/{SIGNATURE_FILE}", signed[SIGNATURE_FILE])
        _read_back(store, prefix, signed)
        return prefix
    try:  # another upload of this version created its manifest first: keep it, if it verifies
        load_version(store, bundle.version)
    except BundleError as exc:
        raise ArtifactStoreError(
            f"{store.uri}/{prefix} already has a manifest that does not verify ({exc}); another "
            "promotion of this version may still be uploading: production was not changed; "
            f"retry, and if it persists delete {prefix}/ (nothing serves it) and promote again"
        ) from exc
    return prefix


def _read_back(store: ArtifactStore, prefix: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        if sha256(store.get(f"{prefix}/{name}")) != sha256(data):
            raise ArtifactStoreError(
                f"read-back of {store.uri}/{prefix}/{name} does not match what was uploaded; "
                "the store is not reliable, production was not changed"
            )


def load_version(store: ArtifactStore, version: str) -> Bundle:
    prefix = model_prefix(version)
    where = f"{store.uri}/{prefix}"
    try:
        files: dict[str, bytes] = {MANIFEST: store.get(f"{prefix}/{MANIFEST}")}
    except KeyError:
        raise BundleError(f"{where}: no such model version") from None
    try:
        manifest = json.loads(files[MANIFEST])
    except ValueError as exc:
        raise BundleError(f"{where}: {MANIFEST} is unreadable ({exc}); roll back") from exc
    for name in (*files_of(manifest, where), SIGNATURE_FILE):
        try:
            files[name] = store.get(f"{prefix}/{name}")
        except KeyError:
            pass  # Bundle.from_files names what is missing (the signature is optional)
    return Bundle.from_files(files, where)


def load_production(store: ArtifactStore) -> Bundle:
    pointer = read_production(store)
    if pointer is None:
        raise BundleError(
            f"{store.uri}: no production model yet; materialise deployed_model (make run) first"
        )
    return load_version(store, pointer.version)


def _audit(store: ArtifactStore, action: str, version: str, record: dict[str, Any]) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"audit/{stamp}-{action}-{version}.json"
    store.put(
        key,
        json.dumps(
            {"action": action, "version": version, **record}, indent=2, sort_keys=True, default=str
        ).encode(),
    )
    return key


def _move(
    store: ArtifactStore,
    version: str,
    expected: Pointer | None,
    action: str,
    record: dict[str, Any],
) -> dict[str, Any]:
    document = {
        "version": version,
        "previous": expected.version if expected else None,
        "action": action,
        "moved_at": datetime.now(UTC).isoformat(),
        "run_id": record.get("run_id"),
    }
    data = json.dumps(document, indent=2).encode()
    try:
        store.write_pointer(PRODUCTION, data, expected.etag if expected else None)
    except ArtifactStoreError:
        # An ambiguous failure: the write may have landed and only its response been lost (a
        # retry of it is then refused as a conflict with itself). The pointer is read back: if
        # it holds this very document (its time stamp makes it unique), the move happened.
        if _pointer_bytes(store) != data:
            raise
    return document


def _pointer_bytes(store: ArtifactStore) -> bytes | None:
    try:
        found = store.read_pointer(PRODUCTION)
    except ArtifactStoreError:
        return None
    return found[0] if found else None


def promote(store: ArtifactStore, bundle: Bundle, record: dict[str, Any]) -> dict[str, Any]:
    """Upload, verify, move production to this bundle, audit. Returns where it went. A move
    whose response was lost but which landed is finished (audit included), not reported as a
    lost race."""
    before = read_production(store)
    key = signing_key_from_env()
    if key is not None and SIGNATURE_FILE not in bundle.files:
        bundle = bundle.signed(key)
    prefix = upload_bundle(store, bundle)
    pointer = _move(store, bundle.version, before, "promote", record)
    audit_key = _audit(
        store, "promote", bundle.version, {**record, "previous": pointer["previous"]}
    )
    return {
        "version": bundle.version,
        "uri": f"{store.uri}/{prefix}",
        "previous": pointer["previous"],
        "audit": f"{store.uri}/{audit_key}",
    }


def rollback(
    store: ArtifactStore, version: str, record: dict[str, Any], *, force: bool = False
) -> dict[str, Any]:
    """Point production at an earlier version after verifying it; audited like a promotion.
    ``force`` replaces a pointer that cannot be read (corrupt JSON, no version) instead of
    refusing; the audit record says it did."""
    try:
        before = read_production(store)
    except ArtifactStoreError:
        found = store.read_pointer(PRODUCTION) if force else None
        if found is None:
            raise
        before = Pointer("(unreadable pointer)", found[1], {})
        record = {**record, "replaced_unreadable_pointer": True}
    load_version(store, version)  # refuses a missing or tampered version before anything moves
    pointer = _move(store, version, before, "rollback", record)
    audit_key = _audit(store, "rollback", version, {**record, "previous": pointer["previous"]})
    return {
        "version": version,
        "previous": pointer["previous"],
        "audit": f"{store.uri}/{audit_key}",
    }


def list_versions(store: ArtifactStore) -> list[str]:
    return sorted({k.split("/")[1] for k in store.list("models/") if k.endswith(f"/{MANIFEST}")})
