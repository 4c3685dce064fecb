"""The ``pgnotes`` command: one subcommand per long-running task of the course.

Each entry of ``COMMANDS`` names a module that defines ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand is used.
``pgnotes --version`` prints the package version. A flag no command knows is a usage
error (exit status 2), as with any argparse program.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("pgnotes.grading.batch", "grade submitted notebooks into a gradebook (CSV + JSON report)"),
    "tetris-cem": ("pgnotes.experiments.tetris_cem", "noisy CEM on Tetris, the Szita & Lorincz protocol (resumable)"),
    "tetris-dellacherie": ("pgnotes.experiments.tetris_dellacherie", "Dellacherie's hand-coded Tetris controller, mean lines"),
    "es-cartpole": ("pgnotes.experiments.es_cartpole", "OpenAI ES, SNES, xNES, CEM and CMA-ES, linear policy, CartPole-v1: training episodes to 475"),
    "ppo-cartpole": ("pgnotes.experiments.ppo_cartpole", "PPO or TRPO on CartPole-v1: environment steps to 475 over 100 episodes"),
    "es-mujoco": ("pgnotes.experiments.es_mujoco", "OpenAI ES, SNES or xNES, linear policy with obs normalization, Swimmer-v5 (or another MuJoCo task)"),
}


def main(argv: list[str] | None = None) -> int:
    from pgnotes import __version__

    parser = argparse.ArgumentParser(prog="pgnotes", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pgnotes {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, add_help=False)  # -h goes to the command
        command.set_defaults(_module=module_name)
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(args._module)
    command_parser = argparse.ArgumentParser(prog=f"pgnotes {args.command}", description=COMMANDS[args.command][1])
    module.add_arguments(command_parser)
    return int(module.run(command_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
