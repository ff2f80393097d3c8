"""`tilegate seed` and `mapproxy-seed`: fill and prune caches as a seed.yaml says.

The options are mapproxy-seed's, with its meanings; Tilegate adds `--rate-limit`, `--retries`,
`--retry-delay`, `--failures-file` and `--progress-interval`.
"""

from __future__ import annotations

import argparse
import logging.config
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from adapters import logs
from adapters.config import load_config
from adapters.seed_config import SeedTasks, load_seed_tasks
from domain.errors import ConfigError, LockTimeoutError
from domain.seeding import CleanupTask, SeedTask
from entrypoints.bootstrap import bootstrap
from entrypoints.seed_cleanup import check_cleanups, run_cleanups
from entrypoints.seed_progress import Progress, summary_line
from entrypoints.seeder import SeedOptions, Stopper, describe, run_seeds

DEFAULT_PROGRESS_FILE = ".mapproxy_seed_progress"
# Exit codes: as mapproxy-seed's where it has one.
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 3


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "seed", help="pre-fill and clean up caches as a seed.yaml says (mapproxy-seed)"
    )
    add_options(parser)
    parser.set_defaults(run=run)


def mapproxy_seed() -> None:
    """The `mapproxy-seed` console script: the same command line as MapProxy's."""
    parser = argparse.ArgumentParser(
        prog="mapproxy-seed", description="Pre-fill and clean up caches."
    )
    add_options(parser)
    sys.exit(run(parser.parse_args(sys.argv[1:])))


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d*\.?\d+)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}, expected e.g. 120s, 15m, 4h, 0.5d"
        )
    return (
        float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    )


def _rate(text: str) -> float:
    match = re.fullmatch(r"(\d*\.?\d+)(/s)?", text.strip())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid rate {text!r}, expected requests per second, e.g. 5 or 0.5/s"
        )
    return float(match.group(1))


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number, at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected at least {minimum}, got {value}"
            )
        return value

    return parse


_positive_int = _int_at_least(1)
_count = _int_at_least(0)


def add_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("seed_conf", nargs="?", help="seed.yaml (or -s)")
    add("-s", "--seed-conf", dest="seed_file", help="seed configuration (seed.yaml)")
    add(
        "-f",
        "--proxy-conf",
        dest="conf_file",
        help="proxy configuration (mapproxy.yaml)",
    )
    add(
        "-c",
        "--concurrency",
        type=_positive_int,
        default=2,
        help="parallel seed processes (default %(default)s)",
    )
    add(
        "-n",
        "--dry-run",
        action="store_true",
        help="only say what would be done: no request, no tile written or removed",
    )
    add(
        "-l",
        "--skip-geoms-for-last-levels",
        dest="geom_levels",
        type=_count,
        default=0,
        metavar="N",
        help="test tiles against the coverage's bbox, not its shape, on the last N levels",
    )
    add(
        "--skip-uncached",
        action="store_true",
        help="only refresh tiles already in the cache (with refresh_before)",
    )
    add(
        "--summary",
        action="store_true",
        help="print the tasks and exit; nothing is seeded",
    )
    add(
        "-i",
        "--interactive",
        action="store_true",
        help="ask for each task whether to run it",
    )
    add(
        "--seed",
        dest="seed_names",
        action="append",
        metavar="task1,task2,...",
        help="seed only these tasks (ALL for all); no cleanup unless --cleanup is given",
    )
    add(
        "--cleanup",
        dest="cleanup_names",
        action="append",
        metavar="task1,task2,...",
        help="clean up only these tasks (ALL for all); no seeding unless --seed is given",
    )
    add(
        "--use-cache-lock",
        action="store_true",
        help="one seeding run per cache at a time, and meta-tiles made under the server's locks",
    )
    add(
        "--continue",
        dest="continue_seed",
        action="store_true",
        help="continue an interrupted run",
    )
    add(
        "--progress-file",
        help=f"where the progress for --continue is kept (default {DEFAULT_PROGRESS_FILE})",
    )
    add("--duration", type=_duration, help="stop after this long (120s, 15m, 4h, 0.5d)")
    add("--reseed-file", metavar="FILE", help="marks the start of the last re-seed")
    add(
        "--reseed-interval",
        type=_duration,
        metavar="DURATION",
        help="only seed if --reseed-file is older than this",
    )
    add("--log-config", dest="logging_conf", help="logging configuration (ini file)")
    add(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="fewer messages; twice: no progress at all",
    )
    add(
        "--rate-limit",
        type=_rate,
        metavar="N/s",
        help="at most N requests per second to each source (Tilegate)",
    )
    add(
        "--retries",
        type=_count,
        default=3,
        help="retries of a failed meta-tile (Tilegate, default %(default)s)",
    )
    add(
        "--retry-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first wait before a retry, doubled each time (Tilegate, default %(default)s)",
    )
    add(
        "--failures-file",
        default="seed-failures.txt",
        help="where failed meta-tiles are listed (Tilegate, default %(default)s)",
    )
    add(
        "--progress-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between progress lines when not on a terminal (Tilegate, default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    seed_file = args.seed_file or args.seed_conf
    if not seed_file or not args.conf_file:
        missing = (
            "-s/--seed-conf (or a last argument)"
            if not seed_file
            else "-f/--proxy-conf"
        )
        print(f"mapproxy-seed: error: missing {missing}", file=sys.stderr)
        return EXIT_CONFIG
    if args.logging_conf:
        try:
            logging.config.fileConfig(args.logging_conf, {"here": "./"})
        except (OSError, KeyError, ValueError) as exc:
            print(
                f"mapproxy-seed: error: --log-config {args.logging_conf}: {exc}",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    logs.configure()
    if not args.logging_conf:
        logging.getLogger("mapproxy").setLevel(logging.WARNING)
    progress_file = args.progress_file
    if args.continue_seed and not progress_file:
        progress_file = DEFAULT_PROGRESS_FILE
    if args.reseed_file and not _reseed_due(args, progress_file):
        print("no need for re-seeding")
        return 1
    started = time.time()
    config_path = Path(args.conf_file)
    try:
        state = bootstrap(load_config(config_path), config_path, seeding=True)
        tasks = load_seed_tasks(
            Path(seed_file), state.conf, state.grids, config_path.parent, started
        )
        seeds, cleanups = _selected(tasks, args.seed_names, args.cleanup_names)
        cleanups = check_cleanups(state, cleanups, seed_file)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"mapproxy-seed: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    progress = Progress(
        sys.stdout, sys.stdout.isatty(), args.quiet, args.progress_interval
    )
    if args.summary:
        _print_summary(seeds, cleanups)
        return 0
    if args.interactive:
        seeds = tuple(t for t in seeds if _ask(f"{t.id}: seed this task (y/n)? "))
        cleanups = tuple(
            t for t in cleanups if _ask(f"{t.id}: clean up this task (y/n)? ")
        )
    options = SeedOptions(
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        use_cache_lock=args.use_cache_lock,
        skip_uncached=args.skip_uncached,
        skip_geoms_for_last_levels=args.geom_levels,
        retries=args.retries,
        retry_delay=args.retry_delay,
        rate_limit=args.rate_limit,
        progress_file=Path(progress_file)
        if progress_file and not args.dry_run
        else None,
        resume=args.continue_seed,
        failures_file=Path(args.failures_file),
    )
    stopper = Stopper(
        None if args.duration is None else time.monotonic() + args.duration
    )
    clock = time.monotonic()
    try:
        seeded = run_seeds(state, seeds, options, progress, stopper) if seeds else None
        cleaned = (
            run_cleanups(state, cleanups, options, progress, stopper)
            if cleanups
            else None
        )
    except LockTimeoutError as exc:
        print(f"mapproxy-seed: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mapproxy-seed: error: cannot write tiles: {exc}", file=sys.stderr)
        return 1
    interrupted = any(t is not None and t.interrupted for t in (seeded, cleaned))
    failed = seeded.failed if seeded else 0
    if args.quiet < 2 or failed:
        print(
            summary_line(
                seeded.seeded if seeded else 0,
                seeded.fresh if seeded else 0,
                failed,
                cleaned.removed if cleaned else 0,
                time.monotonic() - clock,
            ),
            flush=True,
        )
    if failed and seeded is not None:
        print(
            f"mapproxy-seed: {len(seeded.failures)} meta-tiles failed, listed in {options.failures_file}; "
            "run the same command again to retry them",
            file=sys.stderr,
        )
    if interrupted and not stopper.signalled:
        return 0  # --duration ran out: a planned stop
    if interrupted:
        print("interrupted; continue with --continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    if options.progress_file is not None and not args.dry_run:
        options.progress_file.unlink(missing_ok=True)
    return 1 if failed else 0


def _reseed_due(args: argparse.Namespace, progress_file: str | None) -> bool:
    """MapProxy's --reseed-file: a finished run younger than --reseed-interval is not repeated."""
    path = Path(args.reseed_file)
    if not path.exists():
        path.touch()
        return True
    if progress_file and not Path(progress_file).exists():
        if (
            args.reseed_interval
            and path.stat().st_mtime > time.time() - args.reseed_interval
        ):
            return False
        os.utime(path)
    return True


def _selected(
    tasks: SeedTasks, seed_names: list[str] | None, cleanup_names: list[str] | None
) -> tuple[tuple[SeedTask, ...], tuple[CleanupTask, ...]]:
    """The tasks --seed and --cleanup pick; neither option means every task."""
    if not seed_names and not cleanup_names:
        return tasks.seeds, tasks.cleanups
    seeds = _pick(seed_names, tasks.seed_names, "seed", "--seed")
    cleanups = _pick(cleanup_names, tasks.cleanup_names, "cleanup", "--cleanup")
    return (
        tuple(t for t in tasks.seeds if t.name in seeds),
        tuple(t for t in tasks.cleanups if t.name in cleanups),
    )


def _pick(
    given: list[str] | None, known: tuple[str, ...], what: str, option: str
) -> set[str]:
    names = [n.strip() for value in given or [] for n in value.split(",") if n.strip()]
    if names == ["ALL"]:
        return set(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{option}: unknown {what} tasks {', '.join(unknown)}; "
            f"available: {', '.join(known) or 'none'}"
        )
    return set(names)


def _print_summary(
    seeds: tuple[SeedTask, ...], cleanups: tuple[CleanupTask, ...]
) -> None:
    print("========== Seeding tasks ==========")
    for seed in seeds:
        print(describe(seed))
    print("========== Cleanup tasks ==========")
    for cleanup in cleanups:
        print(describe(cleanup))


def _ask(question: str) -> bool:
    while True:
        answer = input(question).strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
