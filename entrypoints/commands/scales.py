"""`tilegate scales` (also `mapproxy-util scales`): scale denominators <-> resolutions."""

from __future__ import annotations

import argparse
import ast
import math
import operator
import sys
from collections.abc import Callable

from domain.scales import dpi_of, pixel_size, res_to_scale, scale_to_res

_OPERATORS: dict[type[ast.AST], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "scales",
        help="convert scales to resolutions (or back with --res-to-scale)",
        description="Convert scale denominators to resolutions, or resolutions to scales.",
    )
    parser.add_argument("values", nargs="+", metavar="scale/resolution")
    parser.add_argument(
        "-l",
        "--levels",
        type=int,
        default=1,
        help="number of values to print: after the given ones, the last is halved (default 1)",
    )
    parser.add_argument(
        "-d",
        "--dpi",
        default="OGC",
        help="DPI of the scales; OGC (the default) is the 0.28 mm pixel, about 90.7 DPI",
    )
    parser.add_argument(
        "--unit",
        choices=("m", "d"),
        default="m",
        help="resolutions in metres (m) or degrees (d) per pixel",
    )
    parser.add_argument(
        "--eval",
        action="store_true",
        help="read the values as arithmetic, e.g. 360/256 (numbers and + - * / ** only)",
    )
    parser.add_argument(
        "--repeat",
        action="store_true",
        help="continue with the given values divided by 10, 100, ... (1000 500 -> 100 50 10 ...)",
    )
    parser.add_argument(
        "--res-to-scale", action="store_true", help="convert resolutions to scales"
    )
    parser.add_argument(
        "--as-res-config",
        action="store_true",
        help="print a `res:` list for a grid configuration",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        pixel = pixel_size(None if args.dpi.upper() == "OGC" else _number(args.dpi))
        values = [_evaluate(v) if args.eval else _number(v) for v in args.values]
        if any(not (math.isfinite(v) and v > 0) for v in values):
            raise ValueError("scales and resolutions must be positive numbers")
        if args.levels < 1:
            raise ValueError(f"--levels must be at least 1, got {args.levels}")
    except ValueError as exc:
        print(f"tilegate scales: {exc}", file=sys.stderr)
        return 2
    latlong = args.unit == "d"
    rows = _extend(values, args.levels, args.repeat)
    if args.res_to_scale:
        pairs = [(res, res_to_scale(res, latlong, pixel)) for res in rows]
    else:
        pairs = [(scale_to_res(scale, latlong, pixel), scale) for scale in rows]
    if args.as_res_config:
        print("    res: [")
        print(f"         #  res            level     scale @{dpi_of(pixel):.1f} DPI")
        for z, (res, scale) in enumerate(pairs):
            print(f"{res:24.10f}, # {z:2d} {scale:20.8f}")
        print("    ]")
        return 0
    for z, (res, scale) in enumerate(pairs):
        out, given = (scale, res) if args.res_to_scale else (res, scale)
        print(f"{out:20.10f} # {z:2d} {given:20.8f}")
    return 0


def _extend(values: list[float], levels: int, repeat: bool) -> list[float]:
    rows = list(values)
    while len(rows) < levels:
        if repeat:
            rows.append(rows[len(rows) - len(values)] / 10)
        else:
            rows.append(rows[-1] / 2)
    return rows


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def _evaluate(text: str) -> float:
    """Arithmetic on numbers only: the expression is parsed, never executed as Python."""
    try:
        return _arithmetic(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise ValueError(f"cannot evaluate {text!r}: {exc}") from None


def _arithmetic(node: ast.AST) -> float:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            # 10**10**10 would compute for ever
            raise ValueError("exponents are limited to 64")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError("only numbers and + - * / ** are allowed")
