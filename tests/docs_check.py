"""`make docs-check`: every snippet in docs/deployment.md is checked by the tool that would run it.

nginx snippets (http-level) go through `nginx -t`, the systemd unit through `systemd-analyze
verify`, the Apache one through `apache2 -t` with mod_wsgi, YAML through Tilegate's config
parser, shell through `bash -n`, Python is compiled and a WSGI file is executed. Paths under
/srv/tilegate, /etc/nginx, /var/... are moved into a temp dir first; the `tilegate
nginx-fast-path` command is run for real, so the nginx snippet including its output is checked
with the generated file.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from adapters.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deployment.md"
VENV = Path(sys.executable).parent.parent
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_NGINX_FRAME = """\
{user}events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/nginx/client_body;
    proxy_temp_path {tmp}/nginx/proxy;
    fastcgi_temp_path {tmp}/nginx/fastcgi;
    uwsgi_temp_path {tmp}/nginx/uwsgi;
    scgi_temp_path {tmp}/nginx/scgi;
{snippet}
}}
"""
_APACHE_FRAME = """\
ServerName localhost
Listen 127.0.0.1:65080
PidFile {tmp}/apache.pid
ErrorLog {tmp}/apache-error.log
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so
{snippet}
"""


class Checker:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.srv = tmp / "srv"
        self.srv.mkdir()
        (tmp / "nginx").mkdir()
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.checked: dict[str, int] = {}

    def local(self, text: str) -> str:
        """The snippet with its absolute paths moved into the temp dir (the venv is ours)."""
        for path, here in (
            ("/srv/tilegate/venv", str(VENV)),
            ("/srv/tilegate", str(self.srv)),
            ("/etc/nginx", str(self.tmp / "etc-nginx")),
            ("/var/cache/nginx", str(self.tmp / "nginx-cache")),
            ("/var/lib/tilegate", str(self.tmp / "var-lib")),
            ("/mnt/tiles", str(self.tmp / "nfs")),
        ):
            text = text.replace(path, here)
        return text

    def run(self, what: str, cmd: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            self.failures.append(
                f"{what}: {shlex.join(cmd)}\n{done.stderr}{done.stdout}"
            )
        return done.stderr

    def yaml(self, n: int, text: str) -> None:
        raw = yaml.safe_load(self.local(text))
        parse_config(raw, f"snippet {n}")
        if "layers" in raw:
            # The complete configuration is the one the other snippets call mapproxy.yaml.
            (self.srv / "mapproxy.yaml").write_text(self.local(text))

    def sh(self, n: int, text: str) -> None:
        self.run(f"snippet {n} (bash -n)", ["bash", "-n"], stdin=text)
        command = " ".join(text.replace("\\\n", " ").split())
        if command.startswith("tilegate nginx-fast-path "):
            (self.tmp / "etc-nginx").mkdir(exist_ok=True)
            args = shlex.split(self.local(command))
            self.run(f"snippet {n}", [str(VENV / "bin" / "tilegate"), *args[1:]])

    def python(self, n: int, text: str) -> None:
        code = compile(self.local(text), f"snippet {n}", "exec")
        if "application" in text:
            namespace: dict[str, object] = {}
            exec(code, namespace)  # noqa: S102 - our own documentation's WSGI file
            if not callable(namespace.get("application")):
                self.failures.append(f"snippet {n}: no callable `application`")

    def nginx(self, n: int, text: str) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            self.skipped.append(f"snippet {n}: nginx is not installed")
            return
        conf = self.tmp / f"nginx-{n}.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(
            _NGINX_FRAME.format(user=user, tmp=self.tmp, snippet=self.local(text))
        )
        (self.tmp / "nginx-cache").mkdir(exist_ok=True)
        pid = self.tmp / "nginx.pid"
        options = f"pid {pid}; error_log stderr;"
        self.run(
            f"snippet {n} (nginx -t)",
            [nginx, "-t", "-q", "-c", str(conf), "-p", str(self.tmp), "-g", options],
        )

    def ini(self, n: int, text: str) -> None:
        if "[Service]" not in text:
            configparser.ConfigParser().read_string(text)
            return
        if shutil.which("systemd-analyze") is None:
            self.skipped.append(f"snippet {n}: systemd-analyze is not installed")
            return
        unit = self.tmp / "tilegate.service"
        unit.write_text(self.local(text))
        errors = self.run(
            f"snippet {n} (systemd-analyze)", ["systemd-analyze", "verify", str(unit)]
        )
        # verify exits 0 on parse errors it "ignores"; any complaint about our unit fails.
        if str(unit) in errors:
            self.failures.append(f"snippet {n} (systemd-analyze): {errors}")

    def apache(self, n: int, text: str) -> None:
        apache = shutil.which("apache2") or "/usr/sbin/apache2"
        if not os.path.exists(apache) or not os.path.exists(
            "/usr/lib/apache2/modules/mod_wsgi.so"
        ):
            self.skipped.append(
                f"snippet {n}: apache2 with mod_wsgi is not installed "
                "(apt-get install apache2-bin libapache2-mod-wsgi-py3)"
            )
            return
        conf = self.tmp / "apache.conf"
        conf.write_text(_APACHE_FRAME.format(tmp=self.tmp, snippet=self.local(text)))
        self.run(f"snippet {n} (apache2 -t)", [apache, "-t", "-f", str(conf)])

    def check(self, doc: Path) -> None:
        snippets = [(m.group(1), m.group(2)) for m in _FENCE.finditer(doc.read_text())]
        checkers: dict[str, Callable[[int, str], None]] = {
            "yaml": self.yaml,
            "sh": self.sh,
            "python": self.python,
            "ini": self.ini,
            "nginx": self.nginx,
            "apache": self.apache,
        }
        # Files first (configuration, generated includes), then what reads them.
        order = ["yaml", "sh", "python", "ini", "nginx", "apache", ""]
        numbered = sorted(
            enumerate(snippets, 1),
            key=lambda s: order.index(s[1][0]) if s[1][0] in order else -1,
        )
        for n, (lang, text) in numbered:
            if lang == "":
                continue  # example output, not something to run
            if lang not in checkers:
                self.failures.append(f"snippet {n}: no checker for ```{lang}")
                continue
            try:
                checkers[lang](n, text)
            except Exception as exc:  # any error is a finding about the snippet
                self.failures.append(f"snippet {n} ({lang}): {exc!r}")
            self.checked[lang] = self.checked.get(lang, 0) + 1


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="docs-check-") as tmp:
        checker = Checker(Path(tmp))
        checker.check(DOC)
    counts = ", ".join(f"{n} {lang}" for lang, n in sorted(checker.checked.items()))
    for skipped in checker.skipped:
        print(f"docs-check: skipped {skipped}")
    for failure in checker.failures:
        print(f"docs-check: FAILED {failure}", file=sys.stderr)
    print(
        f"docs-check: {DOC.relative_to(ROOT)}: {counts}; {len(checker.failures)} failed"
    )
    return 1 if checker.failures else 0


if __name__ == "__main__":
    sys.exit(main())
