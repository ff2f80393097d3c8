"""A `type: mapserver` source: WMS GetMap requests answered by running the MapServer CGI binary."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import attrs

from adapters.http_client import HttpClient, Response, image_from_response
from adapters.logs import get_logger, source_logger_name
from adapters.wms_source import WMSSource
from domain.config import (
    MapServerOptsConf,
    MapServerSourceConf,
    TilegateConf,
    WMSSourceConf,
)
from domain.errors import ConfigValueError, SourceError, SourceTimeoutError
from domain.featureinfo import FeatureInfo, InfoQuery, InfoTransform
from domain.ports import MapQuery, SourceImage
from domain.srs import SRS

# The binary MapProxy looks for in PATH when neither the source nor globals name one.
DEFAULT_BINARY = "mapserv"
DEFAULT_TIMEOUT = 60.0
_URL_SAFE = ",:/"

_log = get_logger(source_logger_name("mapserver"))


class MapServerConfigError(ConfigValueError):
    """A mapserver option that cannot work; `key` is its path from the source (or globals)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


@attrs.frozen
class MapServerRun:
    """Where and how the binary runs: resolved paths and the time a run may take."""

    binary: Path
    mapfile: Path
    working_dir: Path | None
    timeout: float


def resolve_run(
    conf: MapServerSourceConf, defaults: MapServerOptsConf | None, here: Path
) -> MapServerRun:
    """The source's binary, mapfile and working directory (relative paths from `here`);
    MapServerConfigError naming the key when one does not exist."""
    own = conf.mapserver or MapServerOptsConf()
    fallback = defaults or MapServerOptsConf()
    name = own.binary or fallback.binary or DEFAULT_BINARY
    key = (
        "mapserver.binary"
        if own.binary
        else "globals.mapserver.binary"
        if fallback.binary
        else "mapserver.binary"
    )
    if "/" in name:
        binary = here / name
        if not os.access(binary, os.X_OK) or not binary.is_file():
            raise MapServerConfigError(
                f"mapserver binary {str(binary)!r} is not an executable file", key
            )
    else:
        found = shutil.which(name)
        if found is None:
            raise MapServerConfigError(
                f"mapserver binary {name!r} is not in PATH: set mapserver.binary", key
            )
        binary = Path(found)
    mapfile = here / str(conf.req["map"])
    if not mapfile.is_file():
        raise MapServerConfigError(
            f"mapfile {str(mapfile)!r} does not exist", "req.map"
        )
    working = own.working_dir or fallback.working_dir
    working_dir = here / working if working else None
    if working_dir is not None and not working_dir.is_dir():
        raise MapServerConfigError(
            f"working_dir {str(working_dir)!r} is not a directory",
            "mapserver.working_dir"
            if own.working_dir
            else "globals.mapserver.working_dir",
        )
    timeout = own.timeout or fallback.timeout or DEFAULT_TIMEOUT
    return MapServerRun(binary, mapfile, working_dir, timeout)


def check_mapserver(conf: TilegateConf, here: Path) -> list[str]:
    """A problem, with its key path, for every mapserver source that cannot run."""
    problems = []
    for name, source in conf.sources.items():
        if not isinstance(source, MapServerSourceConf):
            continue
        try:
            resolve_run(source, conf.globals.mapserver, here)
        except MapServerConfigError as exc:
            path = (
                f"$.{exc.key}"
                if exc.key.startswith("globals.")
                else f"$.sources[{name!r}].{exc.key}"
            )
            problems.append(f"{exc} @ {path}")
    return problems


@attrs.define
class MapServerSource:
    """Renders maps by running MapServer's CGI binary on a mapfile, one process per map."""

    conf: MapServerSourceConf
    run: MapServerRun
    # The same GetMap parameters a WMS source sends (its HTTP client is never used).
    _wms: WMSSource

    @classmethod
    def configure(
        cls,
        conf: MapServerSourceConf,
        defaults: MapServerOptsConf | None,
        here: Path,
        http: HttpClient,
        info_transform: InfoTransform | None = None,
    ) -> MapServerSource:
        run = resolve_run(conf, defaults, here)
        req = {k: v for k, v in conf.req.items() if k.lower() != "map"}
        wms = WMSSourceConf(
            req={**req, "url": run.mapfile.as_uri()},
            supported_srs=conf.supported_srs,
            supported_formats=conf.supported_formats,
            wms_opts=conf.wms_opts,
            transparent=conf.transparent,
            image=conf.image,
        )
        return cls(conf, run, WMSSource(wms, http, info_transform))

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return self._wms.transparent

    @property
    def supported_srs(self) -> tuple[SRS, ...] | None:
        return self._wms.supported_srs

    def query_string(self, query: MapQuery) -> str:
        return urlencode(self._wms.request_params(query), safe=_URL_SAFE)

    def get_map(self, query: MapQuery) -> SourceImage:
        where = str(self.run.mapfile)
        resp = self._run(self.query_string(query))
        try:
            return image_from_response(resp, where, query.size, "MapServer")
        except SourceError as exc:
            _log.warning("bad mapserver answer", error=str(exc))
            raise

    @property
    def featureinfo(self) -> bool:
        """Whether GetFeatureInfo asks this source (`wms_opts.featureinfo`)."""
        return self._wms.featureinfo

    def get_feature_info(self, query: InfoQuery) -> FeatureInfo:
        """MapServer's GetFeatureInfo answer for the map of query at its pixel."""
        resp = self._run(urlencode(self._wms.info_params(query), safe=_URL_SAFE))
        if resp.status != 200:
            raise SourceError(
                f"mapserver {self.run.mapfile} answered feature info with HTTP {resp.status}"
            )
        return self._wms.info_answer(resp, query)

    def _run(self, query_string: str) -> Response:
        env = {
            **os.environ,
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": query_string,
            # The mapfile is given by the environment: MapServer 8 refuses `map=` paths
            # in the query unless its config allows them.
            "MS_MAPFILE": str(self.run.mapfile),
        }
        try:
            # Its own session, so that a timeout kills whatever the binary started too.
            proc = subprocess.Popen(  # noqa: S603 -- the configured binary, no shell
                [str(self.run.binary)],
                env=env,
                cwd=self.run.working_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise SourceError(f"cannot run mapserver {self.run.binary}: {exc}") from exc
        try:
            out, err = proc.communicate(timeout=self.run.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise SourceTimeoutError(
                f"mapserver {self.run.binary} took longer than {self.run.timeout:g} s"
            ) from None
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()
            raise SourceError(
                f"mapserver {self.run.binary} failed (exit status {proc.returncode})"
                + (f": {detail[-1][:200]}" if detail else "")
            )
        return parse_cgi(out)


def parse_cgi(output: bytes) -> Response:
    """A CGI program's output as a response: its header lines, a blank line, the body."""
    ends = [
        (i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := output.find(sep)) >= 0
    ]
    if not ends:
        raise SourceError("mapserver wrote no CGI headers")
    end, width = min(ends)
    head, body = output[:end].decode("latin-1"), output[end + width :]
    headers: dict[str, str] = {}
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    status = 200
    if "status" in headers:
        try:
            status = int(headers["status"].split()[0])
        except (ValueError, IndexError):
            raise SourceError(
                f"mapserver wrote a bad Status header: {headers['status']!r}"
            ) from None
    return Response(status, headers, body)
