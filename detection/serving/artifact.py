"""The artifact bundle, the unit of deployment.

A bundle is a set of named files: the LightGBM model in text format, the feature list, the rules,
the threshold, the baseline snapshot as parquet, and ``manifest.json`` with the sha256 of every
other file, the metrics and the lineage. Nothing is pickled. ``Bundle.from_files`` verifies every
hash and refuses a tampered or partial bundle. The version is a hash of the file hashes, so the
same content always gets the same version.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from detection import storage
from detection.features.behaviour import SNAPSHOT_TABLES
from detection.serving.signing import (
    SIGNATURE_FILE,
    SignatureError,
    sign,
    trusted_keys_from_env,
    verify,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from detection.storage import Location

MANIFEST = "manifest.json"
MODEL_FILE = "model.txt"
FEATURES_FILE = "features.json"
RULES_FILE = "rules.yaml"
THRESHOLD_FILE = "threshold.json"
TEXT_MODEL_FILE = "text_model.parquet"
DETECTORS_FILE = "detectors.json"
SIGNALS_FILE = "signals.json"  # the content signals' versions the model was trained with
# The snapshot tables formats 1 and 2 hold, frozen: a release that adds a table to
# SNAPSHOT_TABLES must add a format, never change these lists (they are what older bundles have).
_SNAPSHOT_1 = (
    "sender_baselines",
    "pair_baselines",
    "domain_baselines",
    "display_name_baselines",
    "url_domain_baselines",
    "recipient_baselines",
    "employee_baselines",
    "org_domain_baselines",
)
_BASE_FILES = (
    MODEL_FILE,
    FEATURES_FILE,
    RULES_FILE,
    THRESHOLD_FILE,
    *(f"snapshot/{name}.parquet" for name in _SNAPSHOT_1),
)
# Every released format and the files it holds; each stays loadable (rollback must always work),
# and tests/fixtures/bundles/format-<N>/ holds a bundle of each, loaded by the tests forever.
# 1: LightGBM model, features, rules, threshold, snapshot. 2: plus the text model. 3: plus the
# specialised detectors (detection.model.detectors; an empty list when none earned a place).
# 4: plus signals.json, the version of the content signals' term families the model learnt from
# (detection.features.terms; bundles of formats 1-3 learnt from version 1), so that the scorer
# counts terms as the model was trained and a scorer that cannot refuses the bundle.
FORMATS: dict[int, tuple[str, ...]] = {
    1: _BASE_FILES,
    2: (*_BASE_FILES, TEXT_MODEL_FILE),
    3: (*_BASE_FILES, TEXT_MODEL_FILE, DETECTORS_FILE),
    4: (*_BASE_FILES, TEXT_MODEL_FILE, DETECTORS_FILE, SIGNALS_FILE),
}
FORMAT_VERSION = 4
REQUIRED_FILES = FORMATS[FORMAT_VERSION]
# a bundle file larger than this is refused before it is read (the largest snapshot of the 1M
# message benchmark world is a few MB)
MAX_BUNDLE_FILE_BYTES = 512 * 1024 * 1024


def files_of(manifest: dict[str, object], where: str) -> tuple[str, ...]:
    """The files a bundle of this manifest's format must hold."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{where}: {MANIFEST} is not an object; this is not a model bundle")
    version = manifest.get("format_version", 1)
    if version not in FORMATS:
        raise BundleError(
            f"{where}: bundle format {version} is newer than this code reads "
            f"({sorted(FORMATS)}); upgrade the scorer before serving it"
        )
    return FORMATS[version]  # type: ignore[index]


class BundleError(ValueError):
    """A bundle that must not be used: missing files, wrong hashes, or an unreadable manifest."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


@dataclass
class Bundle:
    files: dict[str, bytes]
    manifest: dict[str, object] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def threshold(self) -> float:
        """The global threshold: mail of a tenant without its own threshold."""
        return float(json.loads(self.files[THRESHOLD_FILE])["threshold"])

    @property
    def with_history_threshold(self) -> float:
        """The threshold for tenants with history (format 1: the one threshold)."""
        document = json.loads(self.files[THRESHOLD_FILE])
        return float(document.get("with_history", document["threshold"]))

    @property
    def tenant_thresholds(self) -> dict[str, float]:
        """Per-tenant thresholds calibrated on each tenant's traffic (empty before format 2)."""
        tenants = json.loads(self.files[THRESHOLD_FILE]).get("tenants") or {}
        return {str(k): float(v) for k, v in tenants.items()}

    @property
    def detectors(self) -> bytes | None:
        """The specialised detectors' file (format 3 on); None for a bundle from before them."""
        return self.files.get(DETECTORS_FILE)

    @property
    def features(self) -> list[str]:
        return list(json.loads(self.files[FEATURES_FILE]))

    @property
    def terms_version(self) -> int:
        """The term families' version the model learnt from (format 4 on; 1 before it)."""
        if SIGNALS_FILE not in self.files:
            return 1
        try:
            version = json.loads(self.files[SIGNALS_FILE])["terms_version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(
                f"bundle {self.manifest.get('version')}: {SIGNALS_FILE} is unreadable ({exc}); "
                "redeploy the model"
            ) from exc
        if not isinstance(version, int) or isinstance(version, bool):
            raise BundleError(
                f"bundle {self.manifest.get('version')}: {SIGNALS_FILE} names terms version "
                f"{version!r}, not a number; redeploy the model"
            )
        return version

    @property
    def text_model(self) -> bytes | None:
        """The text model's table (format 2 on); None for a bundle from before it."""
        return self.files.get(TEXT_MODEL_FILE)

    def snapshot(self) -> dict[str, pa.Table]:
        """Every snapshot table this code knows; a table the bundle's format predates is empty
        (its model was trained before the table existed, so it reads none of its features).
        Read with ``ParquetFile``: ``read_table`` goes through pyarrow.dataset, which loads pandas
        into a scoring process that never uses it."""
        return {
            name: pq.ParquetFile(io.BytesIO(self.files[key])).read()
            if (key := f"snapshot/{name}.parquet") in self.files
            else schema.empty_table()
            for name, schema in SNAPSHOT_TABLES.items()
        }

    @classmethod
    def build(
        cls,
        *,
        model_text: str,
        text_model: bytes,
        detectors: bytes,
        features: list[str],
        rules_text: str,
        threshold: float,
        snapshot: dict[str, pa.Table],
        tenant_thresholds: dict[str, float] | None = None,
        with_history: float | None = None,
        terms_version: int,
        metrics: dict[str, object],
        lineage: dict[str, object],
    ) -> Bundle:
        """``terms_version``: the content signals' term families the model's training table
        counted (``detection.features.terms``; the pipeline carries it from ``message_features``
        through the candidate), with which the scorer counts for this bundle."""
        files = {
            MODEL_FILE: model_text.encode(),
            FEATURES_FILE: json.dumps(features, indent=1).encode(),
            RULES_FILE: rules_text.encode(),
            THRESHOLD_FILE: json.dumps(
                {
                    "threshold": threshold,
                    "with_history": threshold if with_history is None else with_history,
                    "tenants": dict(sorted((tenant_thresholds or {}).items())),
                }
            ).encode(),
            TEXT_MODEL_FILE: text_model,
            DETECTORS_FILE: detectors,
            SIGNALS_FILE: json.dumps({"terms_version": terms_version}).encode(),
        }
        for name in SNAPSHOT_TABLES:
            files[f"snapshot/{name}.parquet"] = parquet_bytes(snapshot[name])
        hashes = {name: sha256(data) for name, data in sorted(files.items())}
        version = sha256(json.dumps(hashes, sort_keys=True).encode())[:16]
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(),
            "files": hashes,
            "threshold": threshold,
            "metrics": metrics,
            "lineage": lineage,
        }
        files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
        return cls(files, manifest)

    @classmethod
    def from_files(cls, files: dict[str, bytes], where: str) -> Bundle:
        """Verify and wrap a bundle's files; ``where`` names the location for error messages."""
        if MANIFEST not in files:
            raise BundleError(
                f"{where}: no {MANIFEST}; this is not a model bundle or it is partial"
            )
        try:
            manifest = json.loads(files[MANIFEST])
            hashes = dict(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(
                f"{where}: {MANIFEST} is unreadable ({exc}); redeploy the model"
            ) from exc
        required = files_of(manifest, where)
        unexpected = sorted(set(hashes) - set(required))
        if unexpected:
            raise BundleError(f"{where}: manifest lists unexpected files {unexpected}; refusing it")
        missing = sorted(set(required) - set(hashes)) + sorted(set(hashes) - set(files))
        if missing:
            raise BundleError(f"{where}: bundle is partial, missing {missing}; redeploy the model")
        for name, expected in hashes.items():
            if sha256(files[name]) != expected:
                raise BundleError(
                    f"{where}: sha256 of {name} does not match the manifest; the bundle was "
                    "tampered with or corrupted. Do not use it; redeploy or roll back."
                )
        version = sha256(json.dumps(dict(sorted(hashes.items())), sort_keys=True).encode())[:16]
        if manifest.get("version") != version:
            raise BundleError(f"{where}: manifest version does not match its file hashes")
        try:
            verify(files[MANIFEST], files.get(SIGNATURE_FILE), trusted_keys_from_env(), where)
        except SignatureError as exc:
            raise BundleError(str(exc)) from exc
        kept = {k: v for k, v in files.items() if k in hashes or k in (MANIFEST, SIGNATURE_FILE)}
        return cls(kept, manifest)

    def signed(self, key: Ed25519PrivateKey) -> Bundle:
        """This bundle with an Ed25519 signature over its manifest (detection.serving.signing)."""
        return Bundle(
            {**self.files, SIGNATURE_FILE: sign(self.files[MANIFEST], key)}, self.manifest
        )

    def write_dir(self, directory: Location) -> None:
        for name, data in self.files.items():
            target = directory / name
            storage.make_dir(target.parent)
            target.write_bytes(data)

    @classmethod
    def read_dir(cls, directory: Location) -> Bundle:
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise BundleError(f"{directory}: no {MANIFEST}; point at a bundle directory or a store")
        files = {MANIFEST: read_bundle_file(manifest_path)}
        try:
            manifest = json.loads(files[MANIFEST])
        except ValueError as exc:
            raise BundleError(f"{directory}: {MANIFEST} is unreadable ({exc})") from exc
        for name in (*files_of(manifest, str(directory)), SIGNATURE_FILE):
            path = directory / name
            if path.exists() or path.is_symlink():
                files[name] = read_bundle_file(path)
        return cls.from_files(files, str(directory))


def read_bundle_file(path: Location) -> bytes:
    """A bundle file's bytes, read only if it is a regular file within the size cap (a FIFO would
    hang the loader, a device or a huge file exhaust it)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc}); redeploy") from exc
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{path}: not a regular file; a bundle holds only regular files")
    if info.st_size > MAX_BUNDLE_FILE_BYTES:
        raise BundleError(
            f"{path}: {info.st_size} bytes is over the {MAX_BUNDLE_FILE_BYTES} byte cap for a "
            "bundle file; refusing it"
        )
    return path.read_bytes()
