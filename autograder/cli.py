"""The instructor's ``autograder`` command."""

import argparse
import sys

from . import release as releasing


def _release(args: argparse.Namespace) -> int:
    if args.check:
        stale = releasing.stale()
        for name in stale:
            print(
                f"exercises/{name} is out of date: run `autograder release {name}`", file=sys.stderr
            )
        return 1 if stale else 0
    for path in releasing.release(args.assignments or None):
        print(f"wrote {path.relative_to(releasing.REPO)}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="autograder", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    release = commands.add_parser(
        "release", help="generate exercises/ from solutions/ (nbgrader generate_assignment)"
    )
    release.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    release.add_argument(
        "--check", action="store_true", help="only report assignments whose exercises/ is stale"
    )
    release.set_defaults(run=_release)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except releasing.ReleaseError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
