"""The ``mmff`` command line: one sub-command per module in this package.

Each sub-command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``mmff --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command -> module name in mmff.cli
COMMANDS = {
    "profile": "profile",
    "synth": "synth",
    "prepare": "prepare",
    "train": "train",
    "eval": "evaluate",
    "ensemble": "ensemble",
    "table": "table",
    "demo": "demo",
    "predict": "predict",
    "visualize": "visualize",
    "export": "export",
    "bench": "bench",
}


def _load(name: str):
    return importlib.import_module(f"mmff.cli.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmff",
        description="MMFF: skeleton sequence + one RGB frame fusion for action recognition.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is not None and name != only:
            # Listed with a short help without importing its module.
            sub.add_parser(name, help=f"see: mmff {name} --help")
            continue
        mod = _load(name)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        mod.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = next((a for a in argv if not a.startswith("-")), None)
    if cmd not in COMMANDS:
        cmd = None
    parser = build_parser(only=cmd) if cmd else build_parser(only="")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return int(_load(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as e:
        # Bad input: one line naming what was wrong (the library raises with file/line).
        print(f"mmff {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
