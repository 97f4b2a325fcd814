"""The S3 state backend: the state is the object KEY of BUCKET (the usual AWS credential chain;
AWS_ENDPOINT_URL for S3-compatible stores).

- Lock: the object `KEY.lock`, created with `If-None-Match: *` and holding the holder's JSON
  (pid, user, host, since, lock id). Unlock deletes it with `If-Match` of its own ETag. A killed
  apply leaves it behind: `flowplan force-unlock LOCK_ID` deletes it when the id matches.
- Writes: the version read is copied to `KEY.backup` (only if it is still that version), then
  the state is `PUT` with `If-Match: <etag read>` (`If-None-Match: *` for the first); a 412
  means someone else wrote in between: StateConflictError, never an overwrite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from flowplan.errors import ConfigError, StateConflictError, StateError
from flowplan.state.backend import (
    LockInfo,
    StateBackend,
    Token,
    check_size,
    lock_held_error,
    poll_until,
)

_PRECONDITION = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Backend(StateBackend):
    def __init__(self, bucket: str, key: str) -> None:
        self.bucket = bucket
        self.key = key
        self.lock_key = key + ".lock"
        self.backup_key = key + ".backup"
        self._client: Any = None

    @classmethod
    def from_url(cls, url: str) -> S3Backend:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket or not key or key.endswith("/"):
            raise ConfigError(f"{url}: an S3 state location is s3://BUCKET/KEY")
        return cls(bucket, key)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def describe_backup(self) -> str:
        return f"s3://{self.bucket}/{self.backup_key}"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = boto3.session.Session().client("s3")
            except BotoCoreError as exc:
                raise StateError(f"{self.describe()}: cannot set up S3: {exc}") from None
        return self._client

    def _error(self, what: str, exc: Exception) -> StateError:
        return StateError(f"{self.describe()}: {what}: {_reason(exc)}")

    # --- state ---------------------------------------------------------------------------

    def read(self) -> tuple[bytes | None, Token]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None, None
            raise self._error("cannot read the state", exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot read the state", exc) from None
        check_size(int(answer.get("ContentLength") or 0), self.describe(), self.describe_backup())
        try:
            data: bytes = answer["Body"].read()
        except (BotoCoreError, OSError) as exc:
            raise self._error("cannot read the state", exc) from None
        return data, str(answer["ETag"])

    def write(self, payload: bytes, expected: Token) -> Token:
        conditions = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected}
        if expected is not None:
            self._keep_backup(expected)
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=payload,
                ContentType="application/json",
                **conditions,
            )
        except ClientError as exc:
            if _code(exc) in _PRECONDITION:
                raise self._conflict() from None
            raise self._error("cannot write the state; the previous state is intact", exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot write the state; the previous state is intact", exc) from None
        return str(answer["ETag"])

    def _keep_backup(self, expected: str) -> None:
        """Copy the version read to KEY.backup, only if it is still the current one."""
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self.backup_key,
                CopySource={"Bucket": self.bucket, "Key": self.key},
                CopySourceIfMatch=expected,
            )
        except ClientError as exc:
            if _code(exc) in _PRECONDITION | _MISSING:
                raise self._conflict() from None
            raise self._error("cannot keep the previous version", exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot keep the previous version", exc) from None

    def _conflict(self) -> StateConflictError:
        return StateConflictError(
            f"{self.describe()} was changed by someone else since it was read; nothing was "
            "written. Run the command again"
        )

    # --- lock ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        info = LockInfo.mine()
        etag: list[str] = []

        def try_once() -> bool:
            try:
                answer = self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.lock_key,
                    Body=info.to_json().encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                if _code(exc) in _PRECONDITION:
                    return False
                raise self._error("cannot take the lock", exc) from None
            except BotoCoreError as exc:
                raise self._error("cannot take the lock", exc) from None
            etag.append(str(answer["ETag"]))
            return True

        if not poll_until(try_once, timeout):
            holder, _ = self._holder()
            raise lock_held_error(
                self.describe(),
                holder,
                "; if that process is gone, `flowplan force-unlock "
                f"{holder.id if holder else 'LOCK_ID'}` releases the lock",
            )
        try:
            yield
        finally:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=etag[0])

    def _holder(self) -> tuple[LockInfo | None, str | None]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.lock_key)
            return LockInfo.from_json(answer["Body"].read()), str(answer["ETag"])
        except (ClientError, BotoCoreError, OSError):
            return None, None

    def force_unlock(self, lock_id: str) -> str:
        holder, etag = self._holder()
        if etag is None:
            return f"the state {self.describe()} is not locked"
        if holder is None or holder.id != lock_id:
            raise StateError(
                f"the lock of {self.describe()} has id {holder.id if holder else 'unknown'}, "
                f"not {lock_id}; nothing was unlocked"
            )
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.lock_key, IfMatch=etag)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("cannot delete the lock", exc) from None
        return f"released the lock of {self.describe()} held by {holder}"


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code") or "")
    return code or str(status or "")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return str(exc)
