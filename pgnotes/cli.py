"""The ``pgnotes`` command: one subcommand per experiment of the course, plus ``grade``.

Every module of :mod:`pgnotes.experiments` is a subcommand (``es_cartpole`` -> ``pgnotes
es-cartpole``); its options are generated from the module's ``Config`` dataclass by
:mod:`pgnotes.command`, so ``pgnotes NAME --help`` lists every setting with its default.
``pgnotes grade`` grades submitted notebooks. ``pgnotes --version`` prints the package
version. A flag no command knows is a usage error (exit status 2), as with any argparse program.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import pkgutil
import sys

#: Commands that are not experiments: name -> (module with add_arguments/run, help).
OTHER_COMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("pgnotes.grading.batch", "grade submitted notebooks into a gradebook (CSV + JSON report)"),
}


def _summary(module_name: str) -> str:
    """First line of a module's docstring, read without importing the module."""
    spec = importlib.util.find_spec(module_name)
    with open(spec.origin, encoding="utf-8") as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or module_name
    return doc.strip().splitlines()[0]


def experiment_modules() -> dict[str, str]:
    """``{command name: module name}`` for every experiment module."""
    import pgnotes.experiments as package

    return {info.name.replace("_", "-"): f"{package.__name__}.{info.name}"
            for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")}


#: Every subcommand: name -> module (experiments first, then the others).
COMMANDS: dict[str, str] = {**experiment_modules(), **{name: module for name, (module, _) in OTHER_COMMANDS.items()}}


def main(argv: list[str] | None = None) -> int:
    from pgnotes import __version__, command

    experiments = experiment_modules()
    parser = argparse.ArgumentParser(prog="pgnotes", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pgnotes {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in sorted(experiments.items()):
        sub.add_parser(name, help=_summary(module_name), add_help=False)  # -h goes to the command
    for name, (module_name, help_text) in OTHER_COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command in experiments:
        return command.main(experiments[args.command], rest, prog=f"pgnotes {args.command}")
    module_name, help_text = OTHER_COMMANDS[args.command]
    module = importlib.import_module(module_name)
    command_parser = argparse.ArgumentParser(prog=f"pgnotes {args.command}", description=help_text)
    module.add_arguments(command_parser)
    return int(module.run(command_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
