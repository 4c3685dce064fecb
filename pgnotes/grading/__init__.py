"""Graded exercises: ``check()`` for learners, ``pgnotes grade`` for instructors.

- :func:`check` (``pgnotes.grading.check``): instant feedback in an exercise notebook.
- :mod:`pgnotes.grading.cases`: the JSON format of the cases (public ones ship in ``cases/``).
- :mod:`pgnotes.grading.batch`: the ``pgnotes grade`` command (gradebook CSV + JSON report).
- :mod:`pgnotes.grading.sandbox`: the limited child process that runs submitted code.
"""

from .check import check, run_check

__all__ = ["check", "run_check"]
