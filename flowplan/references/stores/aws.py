"""`${aws-sm:SECRET_ID[#JSON_KEY]}` (Secrets Manager) and `${aws-ssm:/PARAM/NAME}` (Parameter
Store, decrypted), with boto3's usual credential chain.

The region is AWS_REGION or AWS_DEFAULT_REGION, or the one an ARN names; AWS_ENDPOINT_URL (and
the per-service AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM) point at another
endpoint, as boto3 does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from flowplan.references.stores import StoreError, missing_extra
from flowplan.references.template import Ref

_NOT_FOUND = {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
_ENDPOINT_VARS = {
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "ssm": "AWS_ENDPOINT_URL_SSM",
}


class AwsDriver:
    def __init__(self, env: Mapping[str, str]) -> None:
        try:
            import boto3  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError:
            raise missing_extra("aws", "boto3") from None
        self.env = env
        self._session = boto3.session.Session()
        self._config = Config(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 5, "mode": "standard"}
        )
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def fetch(self, ref: Ref) -> str:
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
            NoCredentialsError,
        )

        try:
            if ref.kind == "aws-ssm":
                return self._ssm(ref.target)
            secret_id, _, key = ref.target.partition("#")
            return self._secrets_manager(secret_id, key or None)
        except ClientError as exc:
            raise StoreError(_client_error(exc.response.get("Error", {}))) from None
        except NoCredentialsError:
            raise StoreError("no AWS credentials were found") from None
        except BotoCoreError as exc:
            raise StoreError(f"AWS call failed ({exc.__class__.__name__})") from None

    def _client(self, service: str, name: str) -> Any:
        region = (
            _arn_region(name) or self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION")
        )
        if not region and not self._session.region_name:
            raise StoreError("no AWS region: set AWS_REGION")
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                endpoint = self.env.get(_ENDPOINT_VARS[service]) or self.env.get("AWS_ENDPOINT_URL")
                client = self._session.client(
                    service,
                    region_name=region or None,
                    endpoint_url=endpoint or None,
                    config=self._config,
                )
                self._clients[(service, region)] = client
            return client

    def _ssm(self, name: str) -> str:
        answer = self._client("ssm", name).get_parameter(Name=name, WithDecryption=True)
        return str(answer["Parameter"]["Value"])

    def _secrets_manager(self, secret_id: str, key: str | None) -> str:
        answer = self._client("secretsmanager", secret_id).get_secret_value(SecretId=secret_id)
        if "SecretString" in answer:
            text = str(answer["SecretString"])
        else:
            try:
                text = bytes(answer["SecretBinary"]).decode("utf-8")
            except UnicodeDecodeError:
                raise StoreError("the secret is binary, not UTF-8 text") from None
        return text if key is None else _json_key(text, key)


def _json_key(text: str, key: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise StoreError(f"the secret is not a JSON object, so #{key} cannot be read from it")
    if key not in data:
        raise StoreError(f"the secret has no key {key!r}")
    value = data[key]
    return value if isinstance(value, str) else json.dumps(value)


def _arn_region(name: str) -> str | None:
    parts = name.split(":")
    return parts[3] if name.startswith("arn:") and len(parts) > 4 and parts[3] else None


def _client_error(error: Mapping[str, Any]) -> str:
    code = str(error.get("Code", "unknown"))
    if code in _NOT_FOUND:
        return f"not found ({code})"
    if code in _DENIED:
        return f"access denied ({code})"
    return f"AWS refused the call ({code})"
