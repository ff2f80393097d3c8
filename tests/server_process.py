"""A server the tests run as a process of their own: started on a free port with its log in
a file, ready once it answers HTTP, killed at the end (its data lives in memory only)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import urllib3

from tests.e2e.conftest import stop


class ServerProcess:
    proc: subprocess.Popen[bytes]
    url: str

    def _start(self, args: list[str], workdir: Path, ready: str) -> None:
        # A log file, not a pipe: a server logging every request would fill a pipe and stall.
        log = workdir / f"{Path(args[0]).name}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=self._env()
            )
        http = urllib3.PoolManager(retries=False, timeout=1)
        deadline = time.monotonic() + 30
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{args[0]} exited: {log.read_text()}")
                try:
                    http.request("GET", ready)
                    return
                except urllib3.exceptions.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        except BaseException:
            stop(self.proc)
            raise
        finally:
            http.clear()

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin:/usr/local/bin"}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Killed, not terminated: the data is in memory only, and Azurite's graceful stop
        # waits 10 s for clients' idle keep-alive connections.
        self.proc.kill()
        self.proc.wait()
