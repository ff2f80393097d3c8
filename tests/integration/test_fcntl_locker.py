"""fcntl locks between real threads and real processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.fcntl_locker import FcntlLocker, lock_file_name
from domain.errors import SourceError, SourceTimeoutError

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 4
INCREMENTS = 40


def count_in_processes(tmp_path: Path, use_lock: bool) -> int:
    """Let PROCESSES processes add 1 to a counter file INCREMENTS times each, started together."""
    counter = tmp_path / "counter"
    counter.write_text("0")
    go = tmp_path / "go"
    args = [
        str(tmp_path / "locks"),
        str(counter),
        str(go),
        str(INCREMENTS),
        str(use_lock),
    ]
    code = "import sys; from tests.integration.test_fcntl_locker import increment; increment(*sys.argv[1:])"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE
        )
        for _ in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == b"ready\n"
        go.touch()
        for child in children:
            assert child.wait(timeout=60) == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            assert child.stdout is not None
            child.stdout.close()
    return int(counter.read_text())


def increment(lock_dir: str, counter: str, go: str, times: str, use_lock: str) -> None:
    """Child process: read, pause, write the counter `times` times, under the lock if asked."""
    locker = FcntlLocker(Path(lock_dir))
    path = Path(counter)
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    for _ in range(int(times)):
        if use_lock == "True":
            with locker.lock("counter", timeout=30) as acquired:
                assert acquired
                _read_pause_write(path)
        else:
            _read_pause_write(path)


def _read_pause_write(path: Path) -> None:
    value = int(path.read_text() or 0)
    time.sleep(
        0.001
    )  # widens the window in which an unlocked neighbour reads the same value
    path.write_text(str(value + 1))


def test_processes_exclude_each_other(tmp_path: Path) -> None:
    assert count_in_processes(tmp_path, use_lock=True) == PROCESSES * INCREMENTS


def test_the_counter_loses_updates_without_the_lock(tmp_path: Path) -> None:
    # Shows the test above would catch a locker that does not lock.
    assert count_in_processes(tmp_path, use_lock=False) < PROCESSES * INCREMENTS


def test_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path)
    holders = 0
    most = 0
    count = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal holders, most, count
        for _ in range(30):
            with locker.lock("tile-1", timeout=30) as acquired:
                assert acquired
                with guard:
                    holders += 1
                    most = max(most, holders)
                value = count
                time.sleep(0.0005)
                count = value + 1
                with guard:
                    holders -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (count, most) == (120, 1)


def hold_lock(lock_dir: str, name: str) -> None:
    """Child process: take the lock, say so, keep it until stdin closes."""
    with FcntlLocker(Path(lock_dir)).lock(name, timeout=10) as acquired:
        print("locked" if acquired else "failed", flush=True)
        sys.stdin.read()


def test_wait_gives_up_in_bounded_time_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    code = "import sys; from tests.integration.test_fcntl_locker import hold_lock; hold_lock(*sys.argv[1:])"
    locker = FcntlLocker(tmp_path / "locks")
    with subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "locks"), "meta 1/2/3"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline() == b"locked\n"
            start = time.monotonic()
            with locker.lock("meta 1/2/3", timeout=0.3) as acquired:
                waited = time.monotonic() - start
            assert acquired is False
            assert 0.3 <= waited < 1.0
            with locker.lock("meta 1/2/4", timeout=0) as other:
                assert other is True
        finally:
            holder.stdin.close()
        assert holder.wait(timeout=10) == 0
    start = time.monotonic()
    with locker.lock("meta 1/2/3", timeout=5) as acquired:
        assert acquired is True
    assert time.monotonic() - start < 1.0


def test_zero_timeout_tries_once(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path)
    with locker.lock("a", timeout=0) as outer:
        start = time.monotonic()
        with locker.lock("a", timeout=0) as inner:
            assert (outer, inner) == (True, False)
        assert time.monotonic() - start < 0.1


def test_waiter_gets_the_lock_soon_after_release(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path)
    got_it = threading.Event()

    def wait_for_it() -> None:
        with locker.lock("a", timeout=10) as acquired:
            if acquired:
                got_it.set()

    with locker.lock("a", timeout=0):
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.2)
        assert not got_it.is_set()
        released = time.monotonic()
    assert got_it.wait(5)
    assert time.monotonic() - released < 0.5
    waiter.join()


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path)
    with pytest.raises(RuntimeError), locker.lock("a", timeout=1):
        raise RuntimeError("boom")
    with locker.lock("a", timeout=0) as acquired:
        assert acquired


def test_lock_directory_is_created_when_first_needed(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path / "deep" / "locks")
    assert not (tmp_path / "deep").exists()
    with locker.lock("x", timeout=1) as acquired:
        assert acquired
    assert sorted(p.name for p in (tmp_path / "deep/locks").iterdir()) == ["x.lck"]


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("../evil", "..%2Fevil.lck"),
        ("a/b", "a%2Fb.lck"),
        ("/etc/passwd", "%2Fetc%2Fpasswd.lck"),
        ("..", "...lck"),
        ("", ".lck"),
        ("a%2Fb", "a%252Fb.lck"),
        ("100% ü\0", "100%25%20%C3%BC%00.lck"),
        ("osm_EPSG900913-3-1-2.meta", "osm_EPSG900913-3-1-2.meta.lck"),
    ],
)
def test_names_become_file_names_inside_the_directory(
    tmp_path: Path, name: str, file_name: str
) -> None:
    locker = FcntlLocker(tmp_path / "locks")
    assert lock_file_name(name) == file_name
    with locker.lock(name, timeout=1) as acquired:
        assert acquired
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")] == [
        "locks",
        f"locks/{file_name}",
    ]


def test_long_names_get_short_distinct_file_names(tmp_path: Path) -> None:
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert lock_file_name(a) != lock_file_name(b)
    assert len(lock_file_name("/" * 300)) < 255
    locker = FcntlLocker(tmp_path)
    with locker.lock(a, timeout=0) as first, locker.lock(b, timeout=0) as second:
        assert (first, second) == (True, True)


def test_a_noted_failure_is_read_back_by_the_next_holder_if_newer(
    tmp_path: Path,
) -> None:
    locker = FcntlLocker(tmp_path / "locks")
    with locker.lock("meta", 1.0):
        assert locker.failure_since("meta", 0.0) is None  # nothing noted yet
        locker.note_failure(
            "meta", SourceTimeoutError("x did not answer within 1 s"), 100.0
        )
    # another locker object, as another process has
    other = FcntlLocker(tmp_path / "locks")
    with other.lock("meta", 1.0):
        failure = other.failure_since("meta", 99.5)
        assert isinstance(failure, SourceTimeoutError)
        assert str(failure) == "x did not answer within 1 s"
        assert other.failure_since("meta", 100.0) is None  # asked after it: asks again
        other.note_failure("meta", SourceError("HTTP 500"), 101.0)
    with locker.lock("meta", 1.0):
        failure = locker.failure_since("meta", 99.5)
        assert type(failure) is SourceError
        assert str(failure) == "HTTP 500"
        assert locker.failure_since("other", 0.0) is None


def test_lock_files_without_a_noted_failure_read_as_none(tmp_path: Path) -> None:
    locker = FcntlLocker(tmp_path)
    for content in (b"", b"not json", b'{"at": "x"}', b"[]", b"3"):
        locker.path_for("a").write_bytes(content)
        assert locker.failure_since("a", 0.0) is None


def test_a_newcomer_right_after_a_failure_lets_the_waiters_have_the_lock_first(
    tmp_path: Path,
) -> None:
    locker = FcntlLocker(tmp_path)
    order: list[str] = []
    waiting = threading.Event()

    def waiter() -> None:
        waiting.set()
        with locker.lock("m", 5.0) as acquired:
            assert acquired
            order.append("waiter")
            time.sleep(0.05)  # reads the failure, answers with it

    thread = threading.Thread(target=waiter)
    with locker.lock("m", 1.0):
        thread.start()
        waiting.wait()
        time.sleep(0.1)  # the waiter polls at its slowest now
        locker.note_failure("m", SourceError("HTTP 500"), time.time())
    # comes in as the failure is noted, finds the lock free: without stepping back it would
    # take it before the sleeping waiter, and ask the failing source again
    with locker.lock("m", 5.0) as acquired:
        assert acquired
        order.append("newcomer")
    thread.join()
    assert order == ["waiter", "newcomer"]
