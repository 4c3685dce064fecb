"""Graded exercises: ``check()`` for learners, ``pgnotes grade`` for instructors.

- :func:`check` (``pgnotes.grading.check``): instant feedback in an exercise notebook;
  :func:`case_inputs` gives the inputs of a public case, to reproduce a failure.
- :mod:`pgnotes.grading.cases`: the JSON format of the cases (public ones ship in ``cases/``).
- :mod:`pgnotes.grading.batch`: the ``pgnotes grade`` command (gradebook CSV + JSON report).
- :mod:`pgnotes.grading.sandbox`: the limited child process that runs submitted code.
"""

from .cases import case_inputs
from .check import check, run_check

__all__ = ["case_inputs", "check", "run_check"]
