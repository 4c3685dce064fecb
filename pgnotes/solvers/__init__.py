"""Black-box solvers on one ask/tell interface (fitness maximized), and the runner that drives them."""

from pgnotes.solvers.base import Candidate, Solver
from pgnotes.solvers.runner import History, optimize

__all__ = ["Candidate", "Solver", "History", "optimize"]
