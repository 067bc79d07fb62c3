"""Command line: python -m artifact <subcommand>."""

from __future__ import annotations

import argparse
import sys


def _info(args) -> int:
    from artifact import provenance

    for name, value in provenance.environment().items():
        print(f"{name:>24}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m artifact",
        description="Reproduce 'On the Edge of Memorization in Diffusion Models' (NeurIPS 2025).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, devices and numerics settings of this machine")
    info.set_defaults(run=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
