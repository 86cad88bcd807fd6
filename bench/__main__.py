"""``python -m bench --list`` / ``python -m bench NAME [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from bench._core import format_table, write_results


def _names() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help="benchmark to run")
    parser.add_argument("--list", action="store_true", help="name the benchmarks")
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    args = parser.parse_args(argv)
    names = _names()
    if args.list or not args.name:
        for name in names:
            mod = importlib.import_module(f"bench.{name}")
            print(f"{name:20s} {getattr(mod, 'DESCRIPTION', '')}")
        return 0
    if args.name not in names:
        print(f"unknown benchmark {args.name!r}; try --list", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"bench.{args.name}")
    metrics = mod.run(quick=args.quick)
    print(format_table(args.name, metrics))
    print(f"results written to {write_results(args.name, metrics)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
