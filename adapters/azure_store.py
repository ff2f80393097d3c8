"""An Azure Blob Storage container as an ObjectStore: the account from a connection string,
requests signed with Shared Key (or carrying the string's shared access signature)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from email.utils import formatdate
from urllib.parse import quote, urlsplit

import attrs

from adapters.object_store import (
    Answer,
    ListedObject,
    StoredObject,
    Transport,
    found_object,
    http_time,
    listing,
    refused,
)

LOGGER = "mapproxy.cache.azureblob"
API_VERSION = "2021-08-06"
# The storage emulator's (Azurite's) account: Microsoft publishes this name and key for it.
_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@attrs.frozen
class AzureAccount:
    """Where an account's blobs are and how requests prove who sends them."""

    name: str
    blob_endpoint: str
    key: bytes | None = attrs.field(default=None, repr=False)
    sas: str | None = attrs.field(default=None, repr=False)


def parse_connection_string(value: str) -> AzureAccount:
    """The account of an Azure Storage connection string; ValueError (naming the keys, never
    their values) if it cannot reach blobs with it."""
    parts: dict[str, str] = {}
    for item in value.split(";"):
        name, sep, setting = item.strip().partition("=")
        if sep:
            parts[name.strip().lower()] = setting.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        proxy = parts.get("developmentstorageproxyuri", "http://127.0.0.1")
        return AzureAccount(
            _DEV_ACCOUNT,
            f"{proxy.rstrip('/')}:10000/{_DEV_ACCOUNT}",
            base64.b64decode(_DEV_KEY),
        )
    name = parts.get("accountname", "")
    endpoint = parts.get("blobendpoint")
    if endpoint is None and name:
        protocol = parts.get("defaultendpointsprotocol", "https")
        suffix = parts.get("endpointsuffix", "core.windows.net")
        endpoint = f"{protocol}://{name}.blob.{suffix}"
    if endpoint is None:
        raise ValueError("connection_string needs AccountName or BlobEndpoint")
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("connection_string BlobEndpoint must be an http(s) URL")
    sas = parts.get("sharedaccesssignature")
    if sas:
        return AzureAccount(name, endpoint.rstrip("/"), sas=sas.lstrip("?"))
    if not name or "accountkey" not in parts:
        raise ValueError(
            "connection_string needs AccountName and AccountKey, or SharedAccessSignature"
        )
    try:
        key = base64.b64decode(parts["accountkey"], validate=True)
    except binascii.Error:
        raise ValueError("connection_string AccountKey is not base64") from None
    return AzureAccount(name, endpoint.rstrip("/"), key)


def shared_key(
    account: str,
    key: bytes,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> str:
    """The Authorization header of a Blob service request (Shared Key, version 2009-09-19 on).

    `path` is the request's path as sent (encoded), `headers` all it sends, lower-case names.
    """
    standard = (
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    )
    values = [headers.get(name, "") for name in standard]
    # Since version 2015-02-21 a zero length is signed as empty.
    values[2] = "" if values[2] == "0" else values[2]
    ms = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-ms-"))
    resource = f"/{account}{path}" + "".join(
        f"\n{k.lower()}:{v}" for k, v in sorted(query.items())
    )
    to_sign = "\n".join([method, *values, *(f"{k}:{v}" for k, v in ms), resource])
    digest = hmac.new(key, to_sign.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(digest).decode()}"


@attrs.define
class AzureBlobStore:
    """Container `container` of `account`; tiles are block blobs."""

    account: AzureAccount
    container: str
    transport: Transport = attrs.Factory(Transport)

    @property
    def where(self) -> str:
        return f"azure container {self.container} at {self.account.blob_endpoint}"

    def get(self, key: str) -> StoredObject | None:
        return found_object(self._request("GET", key), self._name(key))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        headers = {
            "content-type": content_type,
            "content-length": str(len(data)),
            "x-ms-blob-type": "BlockBlob",
        }
        answer = self._request("PUT", key, headers=headers, body=data)
        if answer.status != 201:
            raise refused("PUT", self._name(key), answer)

    def delete(self, key: str) -> bool:
        answer = self._request("DELETE", key)
        if answer.status == 404:
            return False
        if answer.status != 202:
            raise refused("DELETE", self._name(key), answer)
        return True

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        marker = ""
        while True:
            query = {"restype": "container", "comp": "list", "prefix": prefix}
            if marker:
                query["marker"] = marker
            page = listing(
                self._request("GET", None, query=query),
                "container",
                f"{self.where} {prefix!r}",
            )
            for blob in page.iter("Blob"):
                props = blob.find("Properties")
                if props is None:
                    continue
                yield ListedObject(
                    blob.findtext("Name", ""),
                    http_time(props.findtext("Last-Modified", "")),
                    int(props.findtext("Content-Length", "0")),
                )
            marker = page.findtext("NextMarker") or ""
            if not marker:
                return

    def _name(self, key: str) -> str:
        return f"{self.container}/{key}"

    def _request(
        self,
        method: str,
        key: str | None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        base = urlsplit(self.account.blob_endpoint)
        path = f"{base.path}/{quote(self.container, safe='')}"
        if key is not None:
            path += "/" + quote(key, safe="/-_.~")
        query = dict(query or {})
        sent = {
            **(headers or {}),
            "x-ms-date": formatdate(usegmt=True),
            "x-ms-version": API_VERSION,
        }
        if self.account.key is not None:
            sent["authorization"] = shared_key(
                self.account.name, self.account.key, method, path, query, sent
            )
        pairs = [f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items()]
        if self.account.sas:
            pairs.append(self.account.sas)
        url = f"{base.scheme}://{base.netloc}{path}"
        return self.transport.request(
            method,
            url + ("?" + "&".join(pairs) if pairs else ""),
            sent,
            body,
            # The SAS is a secret: messages name the blob, never the URL.
            where=f"{self.where} {key or ''}",
        )
