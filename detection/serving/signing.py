"""Signed bundles: an Ed25519 signature over the manifest (which holds the sha256 of every other
file), so that whoever can write the artifact store cannot re-hash a bundle with a raised
threshold and have it served.

Configuration (environment; nothing to set up locally, where bundles are unsigned):

- ``ATTACK_DETECTION_SIGNING_KEY``: a PEM Ed25519 private key file. The deployment signs every
  bundle it uploads with it. In production, keep the key in a secret store (or sign with AWS KMS,
  which supports Ed25519, and keep only the public key here); never in the repository.
- ``ATTACK_DETECTION_TRUSTED_KEYS``: comma-separated PEM Ed25519 public key files. When set, the
  scorer, rollback and every bundle load refuse a bundle that is unsigned or signed by a key not
  in the list. Unset, signatures are not required (and a present one is still checked against
  the keys it can be, i.e. none).

A key's id is the first 16 hex digits of the sha256 of its raw public bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported when a key is used, not when the scorer starts
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNATURE_FILE = "signature.json"
SIGNING_KEY_ENV = "ATTACK_DETECTION_SIGNING_KEY"
TRUSTED_KEYS_ENV = "ATTACK_DETECTION_TRUSTED_KEYS"


class SignatureError(ValueError):
    """A bundle whose signature is missing, unknown or wrong where signatures are required."""


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: not an Ed25519 public key")
    return key


def signing_key_from_env() -> Ed25519PrivateKey | None:
    path = os.environ.get(SIGNING_KEY_ENV, "").strip()
    return load_private_key(Path(path)) if path else None


def trusted_keys_from_env() -> dict[str, Ed25519PublicKey] | None:
    """The trusted public keys by id, or None when signatures are not required."""
    paths = [p.strip() for p in os.environ.get(TRUSTED_KEYS_ENV, "").split(",") if p.strip()]
    if not paths:
        return None
    keys = [load_public_key(Path(p)) for p in paths]
    return {key_id(k): k for k in keys}


def sign(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    """The signature file's content for this manifest."""
    document = {
        "algorithm": "ed25519",
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


def verify(
    manifest: bytes,
    signature: bytes | None,
    trusted: dict[str, Ed25519PublicKey] | None,
    where: str,
) -> str | None:
    """The signing key's id when the signature verifies against a trusted key; None when
    signatures are not required and the bundle is unsigned. Raises SignatureError otherwise."""
    if signature is None:
        if trusted is None:
            return None
        raise SignatureError(
            f"{where}: the bundle is unsigned and {TRUSTED_KEYS_ENV} requires signatures; "
            "deploy it again with the signing key configured"
        )
    try:
        document = json.loads(signature)
        kid, value = str(document["key_id"]), base64.b64decode(document["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"{where}: {SIGNATURE_FILE} is unreadable ({exc})") from exc
    if trusted is None:
        return None  # nothing to check it against: signatures are not required here
    from cryptography.exceptions import InvalidSignature

    public = trusted.get(kid)
    if public is None:
        raise SignatureError(
            f"{where}: signed by key {kid}, which is not in {TRUSTED_KEYS_ENV}; refusing it"
        )
    try:
        public.verify(value, manifest)
    except InvalidSignature:
        raise SignatureError(
            f"{where}: the signature does not match the manifest: the bundle was changed after "
            "it was signed. Do not use it; roll back to a verified version."
        ) from None
    return kid
