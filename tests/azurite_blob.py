"""Azurite's blob service (`make node-packages` installs it under tests/azurite), which checks
the Shared Key signatures and shared access signatures of its well-known dev account."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import shutil
from pathlib import Path
from urllib.parse import urlencode

from adapters.azure_store import AzureBlobStore, parse_connection_string
from tests.e2e.conftest import free_port
from tests.server_process import ServerProcess

AZURITE_BLOB = (
    Path(__file__).parent / "azurite" / "node_modules" / ".bin" / "azurite-blob"
)
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteBlob(ServerProcess):
    """Azurite's blob service on a free port; `.connection_string` reaches its dev account."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/devstoreaccount1"
        self._start(
            [
                str(AZURITE_BLOB),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--inMemoryPersistence",
                # MapProxy's azure-storage-blob asks for API versions newer than Azurite's.
                "--skipApiVersionCheck",
                "--silent",
            ],
            workdir,
            f"http://127.0.0.1:{self.port}/",
        )
        self.connection_string = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={DEV_KEY};BlobEndpoint={self.url}"
        )

    def _env(self) -> dict[str, str]:
        node = shutil.which("node")
        path = f"{Path(node).parent}:{super()._env()['PATH']}" if node else None
        return {**super()._env(), **({"PATH": path} if path else {})}

    def sas_connection_string(self, permissions: str = "rwdlac") -> str:
        """A connection string with an account shared access signature (no key), valid 1 h."""
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        fields = {
            "sv": "2021-08-06",
            "ss": "b",
            "srt": "sco",
            "sp": permissions,
            "se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "spr": "https,http",
        }
        # The account SAS string to sign of version 2020-12-06 on (Azure's SAS docs).
        to_sign = "\n".join(
            [
                "devstoreaccount1",
                fields["sp"],
                fields["ss"],
                fields["srt"],
                "",
                fields["se"],
                "",
                fields["spr"],
                fields["sv"],
                "",
                "",
            ]
        )
        digest = hmac.new(base64.b64decode(DEV_KEY), to_sign.encode(), hashlib.sha256)
        fields["sig"] = base64.b64encode(digest.digest()).decode()
        return f"BlobEndpoint={self.url};SharedAccessSignature={urlencode(fields)}"

    def container(self, name: str) -> AzureBlobStore:
        """A new container, as a store with the dev account's key."""
        store = AzureBlobStore(parse_connection_string(self.connection_string), name)
        answer = store._request("PUT", None, query={"restype": "container"})
        assert answer.status == 201, answer
        return store
