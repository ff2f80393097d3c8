"""ErrorDetails: which upstream URLs an error answer may show."""

from __future__ import annotations

from domain.errors import RequestError, SourceError, SourceTimeoutError
from entrypoints.error_details import ErrorDetails

TWO = "WMS http://a.example/wms answered HTTP 500, then https://b.example:8443/x failed"


def test_hidden_urls_become_a_placeholder_and_the_error_keeps_its_kind() -> None:
    shown = ErrorDetails().public(SourceTimeoutError(TWO))
    assert type(shown) is SourceTimeoutError
    assert str(shown) == (
        "WMS [source] answered HTTP 500, then [source] failed (details in the server log)"
    )


def test_hosts_whose_source_says_otherwise_are_flipped() -> None:
    hide_b = ErrorDetails(hide=False, flipped=frozenset({"b.example:8443"}))
    assert str(hide_b.public(SourceError(TWO))) == (
        "WMS http://a.example/wms answered HTTP 500, then [source] failed"
        " (details in the server log)"
    )
    show_a = ErrorDetails(hide=True, flipped=frozenset({"a.example"}))
    assert str(show_a.public(SourceError(TWO))).startswith("WMS http://a.example/wms ")


def test_errors_without_urls_and_client_errors_are_unchanged() -> None:
    plain = SourceError("mapserv exited with status 1")
    assert ErrorDetails().public(plain) is plain
    client = RequestError("bad BBOX http://x/")
    assert ErrorDetails().public(client) is client
    assert str(ErrorDetails(hide=False).public(SourceError(TWO))) == TWO
