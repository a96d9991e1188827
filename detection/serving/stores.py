"""Artifact stores: one interface, a local directory and S3 (through boto3), behaving identically.

Keys are relative paths (``models/<version>/model.txt``). Pointers are small JSON objects moved
with a conditional write: ``expected_etag=None`` means "only if it does not exist yet", otherwise
"only if it is still the version I read". Every failure raises :class:`ArtifactStoreError` (or
:class:`PointerConflict`) with a message that says what went wrong and what to do; nothing is
swallowed, and no credential ever appears in a message.
"""

from __future__ import annotations

import abc
import fcntl
import hashlib
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# an object larger than this is refused before it is read (bundle files are a few MB)
MAX_OBJECT_BYTES = 512 * 1024 * 1024


# S3's answers to a conditional write whose condition does not hold (or that raced another)
_CONDITION_FAILED = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class ArtifactStoreError(RuntimeError):
    """The store could not complete an operation."""


class PointerConflict(ArtifactStoreError):
    """Somebody else moved the pointer since it was read: this promotion lost the race."""


class ArtifactStore(abc.ABC):
    """Where bundles, the production pointer and the audit log live."""

    @property
    @abc.abstractmethod
    def uri(self) -> str: ...

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object only if no object has the key (a conditional create, atomic against
        concurrent writers); returns False, writing nothing, when one already exists."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; raises ``KeyError`` when it does not exist."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]: ...

    @abc.abstractmethod
    def read_pointer(self, key: str) -> tuple[bytes, str] | None:
        """``(data, etag)`` of a pointer, or None when it does not exist."""

    @abc.abstractmethod
    def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
        """Write only if the pointer is unchanged since read; returns the new etag."""


def _check_key(key: str) -> str:
    parts = Path(key).parts
    if not key or key.startswith("/") or ".." in parts:
        raise ArtifactStoreError(f"invalid artifact key {key!r}: use a relative path without '..'")
    return key


class LocalArtifactStore(ArtifactStore):
    """A directory. Writes are atomic (temp file + rename); pointer moves hold a file lock."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def uri(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _write(self, key: str, data: bytes, *, replace: bool) -> bool:
        """Write a whole temporary file beside the target, then rename it over the target
        (``replace``) or hard-link it to the target's name, which fails if the name exists."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            if replace:
                os.replace(tmp.name, path)
                return True
            try:
                os.link(tmp.name, path)
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp.name)
        except OSError as exc:
            raise ArtifactStoreError(
                f"cannot write {path}: {exc.strerror}; check the directory"
            ) from exc
        return True

    def put(self, key: str, data: bytes) -> None:
        self._write(key, data, replace=True)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self._write(key, data, replace=False)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise ArtifactStoreError(f"{path}: not a regular file; refusing to read it")
            if info.st_size > MAX_OBJECT_BYTES:
                raise ArtifactStoreError(
                    f"{path}: {info.st_size} bytes is over the {MAX_OBJECT_BYTES} byte cap"
                )
            return path.read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise ArtifactStoreError(f"cannot read {path}: {exc.strerror}") from exc

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    @staticmethod
    def _etag(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    @contextmanager
    def _locked(self, key: str):
        lock_path = self._path(key).with_name(f".{Path(key).name}.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_pointer(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self.get(key)
        except KeyError:
            return None
        return data, self._etag(data)

    def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
        with self._locked(key):
            current = self.read_pointer(key)
            current_etag = current[1] if current else None
            if current_etag != expected_etag:
                raise PointerConflict(
                    f"pointer {key} in {self.uri} changed since it was read (another promotion or "
                    "rollback won); read it again and retry if this change is still wanted"
                )
            self.put(key, data)
        return self._etag(data)


class S3ArtifactStore(ArtifactStore):
    """An S3 bucket and prefix, through boto3; works against AWS S3, MinIO or moto's server."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        server_side_encryption: str | None = "AES256",
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ArtifactStoreError(
                "S3 artifact store needs a bucket name; set it in the URI or config"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self.server_side_encryption = server_side_encryption
        self._client = client

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
            )
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config
            )
        return self._client

    def _key(self, key: str) -> str:
        key = _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> ArtifactStoreError:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        where = f"s3://{self.bucket}/{self._key(key)}"
        if isinstance(exc, NoCredentialsError):
            return ArtifactStoreError(
                f"{action} {where}: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or a profile"
            )
        if isinstance(exc, EndpointConnectionError):
            return ArtifactStoreError(
                f"{action} {where}: cannot reach the S3 endpoint {self.endpoint_url or 'AWS'}; "
                "check ATTACK_DETECTION_S3_ENDPOINT_URL and the network"
            )
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _CONDITION_FAILED:
                return PointerConflict(
                    f"{action} {where}: the pointer changed since it was read (another "
                    "promotion or rollback won); read it again and retry if still wanted"
                )
            if code == "NoSuchBucket":
                return ArtifactStoreError(
                    f"{action} {where}: bucket {self.bucket!r} does not exist; create it or "
                    "fix the bucket name"
                )
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                return ArtifactStoreError(
                    f"{action} {where}: access denied ({code}); check the AWS credentials "
                    "and the bucket policy"
                )
            return ArtifactStoreError(f"{action} {where}: S3 error {code or 'unknown'}")
        return ArtifactStoreError(f"{action} {where}: {type(exc).__name__}: {exc}")

    def _put_object(self, key: str, data: bytes, **condition: str) -> dict[str, Any]:
        extra = (
            {"ServerSideEncryption": self.server_side_encryption}
            if self.server_side_encryption
            else {}
        )
        return self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, **condition, **extra
        )

    def put(self, key: str, data: bytes) -> None:
        try:
            self._put_object(key, data)
        except Exception as exc:
            raise self._fail("upload to", key, exc) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._put_object(key, data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONDITION_FAILED:
                return False
            raise self._fail("upload to", key, exc) from exc
        except Exception as exc:
            raise self._fail("upload to", key, exc) from exc
        return True

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            if int(response.get("ContentLength") or 0) > MAX_OBJECT_BYTES:
                response["Body"].close()
                raise ArtifactStoreError(
                    f"s3://{self.bucket}/{self._key(key)}: {response['ContentLength']} bytes is "
                    f"over the {MAX_OBJECT_BYTES} byte cap; refusing it"
                )
            return response["Body"].read(MAX_OBJECT_BYTES + 1)
        except ArtifactStoreError:
            raise
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise self._fail("download from", key, exc) from exc
        except Exception as exc:
            raise self._fail("download from", key, exc) from exc

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix) if prefix else self.prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full
            ):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except Exception as exc:
            raise self._fail("list", prefix or ".", exc) from exc
        return sorted(keys)

    def read_pointer(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail("read pointer", key, exc) from exc
        except Exception as exc:
            raise self._fail("read pointer", key, exc) from exc

    def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
        condition = {"IfMatch": expected_etag} if expected_etag else {"IfNoneMatch": "*"}
        try:
            response = self._put_object(key, data, **condition)
        except Exception as exc:
            raise self._fail("move pointer", key, exc) from exc
        return response["ETag"]


def open_store(
    uri: str, *, endpoint_url: str | None = None, region: str | None = None
) -> ArtifactStore:
    """``s3://bucket/prefix`` or a directory path."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        return S3ArtifactStore(bucket, prefix, endpoint_url=endpoint_url, region=region)
    return LocalArtifactStore(uri)
