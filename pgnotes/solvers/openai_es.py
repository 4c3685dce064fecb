r"""OpenAI evolution strategies (Salimans et al. 2017), maximizing fitness (chapter 3).

The search distribution is :math:`\mathcal N(\mu, \sigma^2 I)` with a **fixed** :math:`\sigma`;
only the mean moves. Algorithm 1 of Salimans et al. (as in the CMU 10-703 lecture, Fragkiadaki & Kumar):

.. math::
    \varepsilon_1, \dots, \varepsilon_n \sim \mathcal N(0, I), \quad
    F_i = F(\mu_t + \sigma \varepsilon_i), \quad
    \mu_{t+1} = \mu_t + \alpha \frac{1}{n\sigma} \sum_{i=1}^n F_i\, \varepsilon_i .

The estimate :math:`\frac{1}{n\sigma}\sum_i F_i \varepsilon_i` is the search gradient of the
Gaussian, :math:`\nabla_\mu \log p = (\theta - \mu)/\sigma^2 = \varepsilon/\sigma`
("a concrete example" in the CMU 10-703 lecture); it is :func:`es_gradient`. On top of it the solver
has the tricks of the paper's public code:

* **antithetic pairs** (mirrored sampling): the population is
  :math:`\varepsilon_1, -\varepsilon_1, \dots`, which cancels the even part of
  :math:`F` from the estimate and lowers its variance;
* **fitness shaping** with centred ranks in [-0.5, 0.5]
  (:func:`pgnotes.shaping.centered_ranks`), which makes the update invariant to monotone
  transformations of fitness;
* **weight decay**: the ascent direction is :math:`\hat g - \lambda_{wd}\,\mu`;
* the step is taken by a **torch optimizer** (``torch.optim.Adam`` or ``torch.optim.SGD``)
  on the mean, which is a float64 ``torch`` tensor; the optimizer minimizes, so it is given
  :math:`-(\hat g - \lambda_{wd}\mu)` as the gradient.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, Callable

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.shaping import SHAPINGS, check_shaping, shape_fitness  # noqa: F401 (openai_es.SHAPINGS)
from pgnotes.solvers.base import Solver

OPTIMIZERS = ("adam", "sgd")


def es_gradient(noise, shaped_fitness, sigma: float) -> np.ndarray:
    r"""The ES estimate :math:`\frac{1}{n\sigma} \sum_{i=1}^n F_i\, \varepsilon_i` of :math:`\nabla_\mu \mathbb E[F]` (chapter 3).

    Parameters
    ----------
    noise : (n, dim) array
        The standard-normal perturbations :math:`\varepsilon_i` (with antithetic sampling,
        both :math:`\varepsilon` and :math:`-\varepsilon` rows, each once).
    shaped_fitness : (n,) array
        :math:`F_i`, raw or shaped (e.g. centred ranks).
    sigma : float
        Noise standard deviation (> 0).

    A pure function of its inputs (no state, no randomness), so that a distributed worker
    that rebuilds ``noise`` from shared seeds computes the same update bit for bit. Accepts
    numpy arrays; float32 noise is accumulated in float64.
    """
    sigma = _validate.positive("sigma", sigma)
    noise = np.asarray(noise)
    if noise.ndim != 2:
        raise ValueError(f"noise must be a 2-D array (n, dim), got shape {noise.shape}")
    shaped_fitness = _validate.finite_array("shaped_fitness", shaped_fitness, shape=(noise.shape[0],))
    return (shaped_fitness @ noise.astype(np.float64, copy=False)) / (noise.shape[0] * sigma)


class OpenAIES(Solver):
    r"""OpenAI ES (Salimans et al. 2017): fixed-sigma Gaussian, antithetic pairs, rank shaping, torch optimizer (chapter 3).

    Fitness is **maximized**.

    Parameters
    ----------
    dim : int
        Dimension of a solution (e.g. the number of policy parameters).
    popsize : int
        Candidates per generation ``n`` (>= 2; even when ``antithetic``). Default 50.
    mean : array_like, optional
        Initial mean :math:`\mu_0` (default zeros).
    sigma : float
        Fixed noise standard deviation (> 0). Default 0.02, the paper's.
    lr : float
        Learning rate of the optimizer (> 0). Default 0.01, the paper's Adam step.
    optimizer : {"adam", "sgd"}
        ``torch.optim.Adam`` (default) or ``torch.optim.SGD``.
    momentum : float
        SGD momentum in [0, 1) (default 0.9, as in the paper's code); ignored by Adam.
    betas : (float, float)
        Adam's betas (default (0.9, 0.999)).
    weight_decay : float
        Coefficient :math:`\lambda_{wd} \ge 0` of the decay :math:`-\lambda_{wd}\mu` added to the
        ascent direction (default 0.005, the paper's ``l2coeff``).
    antithetic : bool
        Mirrored sampling (default True).
    shaping : {"centered_ranks", "none", "standardize", "nes_utilities"} or callable
        Fitness shaping before :func:`es_gradient` (default centred ranks); see
        :func:`pgnotes.shaping.shape_fitness`.
    rng : numpy.random.Generator or int
        Randomness of the perturbations.

    Attributes
    ----------
    mean_tensor : torch.nn.Parameter
        The mean as a float64 torch parameter (what the optimizer steps); ``mean`` is a numpy copy.
    sigma : float
        The fixed noise standard deviation; ``covariance`` is ``sigma**2 * I``.
    last_gradient : (dim,) array or None
        The ES gradient estimate of the last ``tell`` (before weight decay).
    """

    def __init__(
        self,
        dim: int,
        popsize: int = 50,
        *,
        mean=None,
        sigma: float = 0.02,
        lr: float = 0.01,
        optimizer: str = "adam",
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.005,
        antithetic: bool = True,
        shaping: str | Callable = "centered_ranks",
        rng: np.random.Generator | int = 0,
    ):
        super().__init__(dim, popsize, rng, min_popsize=2)
        if not isinstance(antithetic, bool):
            raise TypeError(f"antithetic must be True or False, got {type(antithetic).__name__}")
        if antithetic and self.popsize % 2:
            raise ValueError(f"popsize must be even when antithetic=True (pairs +eps, -eps), got {self.popsize}")
        self.antithetic = antithetic
        self.sigma = _validate.positive("sigma", sigma)
        self.lr = _validate.positive("lr", lr)
        self.weight_decay = _validate.non_negative("weight_decay", weight_decay)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        self.shaping = check_shaping(shaping)
        self.optimizer_name = optimizer
        mean = self._initial_mean(mean)
        self.mean_tensor = torch.nn.Parameter(torch.tensor(mean, dtype=torch.float64))
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam([self.mean_tensor], lr=self.lr, betas=tuple(betas))
        else:
            self.optimizer = torch.optim.SGD([self.mean_tensor], lr=self.lr, momentum=float(momentum))
        self.last_gradient: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        return self.mean_tensor.detach().numpy().copy()

    @property
    def covariance(self) -> np.ndarray:
        """``sigma**2 * I`` (dim, dim): the fixed search distribution's covariance (for :mod:`pgnotes.viz`)."""
        return self.sigma**2 * np.eye(self.dim)

    def sample_noise(self) -> np.ndarray:
        """Draw the (popsize, dim) standard-normal perturbations of one generation (mirrored if antithetic)."""
        if self.antithetic:
            half = self.rng.standard_normal((self.popsize // 2, self.dim))
            return np.concatenate([half, -half])
        return self.rng.standard_normal((self.popsize, self.dim))

    def _ask(self) -> np.ndarray:
        return self.mean + self.sigma * self.sample_noise()

    def shape(self, fitness: np.ndarray) -> np.ndarray:
        """Apply this solver's fitness shaping to a fitness array (popsize,): :func:`pgnotes.shaping.shape_fitness`."""
        return shape_fitness(fitness, self.shaping)

    def step(self, gradient) -> None:
        """Apply one ascent step along ``gradient`` (dim,) with weight decay, through the torch optimizer."""
        gradient = _validate.finite_array("gradient", gradient, shape=(self.dim,))
        shallow, saved = self.__dict__.copy(), self.state_dict()
        try:  # atomic: a step that would make the mean non-finite leaves the solver as it was
            direction = gradient - self.weight_decay * self.mean
            self.optimizer.zero_grad(set_to_none=False)
            self.mean_tensor.grad = torch.from_numpy(-direction)  # the optimizer minimizes
            self.optimizer.step()
            _validate.check_finite_state("OpenAIES.step", self._finite_state())
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(shallow)
            self._apply_state(saved)
            raise

    def _finite_state(self) -> dict[str, Any]:
        return {"mean": self.mean}

    def _tell(self, x: np.ndarray, fitness: np.ndarray) -> None:
        noise = (x - self.mean) / self.sigma
        self.last_gradient = es_gradient(noise, self.shape(fitness), self.sigma)
        self.step(self.last_gradient)

    # -- checkpoints: the torch optimizer's state as numpy -----------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        opt = self.optimizer.state_dict()
        state["mean"] = self.mean.copy()
        state["optimizer"] = {
            "state": {k: {n: (v.detach().numpy().copy() if torch.is_tensor(v) else v) for n, v in s.items()} for k, s in opt["state"].items()},
            "param_groups": copy.deepcopy(opt["param_groups"]),
        }
        state["last_gradient"] = None if self.last_gradient is None else self.last_gradient.copy()
        return state

    def _check_state(self, state: dict[str, Any]) -> None:
        super()._check_state(state)
        _validate.mapping("state", state, ("mean", "optimizer", "last_gradient"))
        _validate.finite_array("state['mean']", state["mean"], shape=(self.dim,))
        opt = _validate.mapping("state['optimizer']", state["optimizer"], ("state", "param_groups"))
        if not isinstance(opt["state"], dict) or not isinstance(opt["param_groups"], list):
            raise ValueError("state['optimizer'] must hold a dict 'state' and a list 'param_groups' (from state_dict())")
        if state["last_gradient"] is not None:
            _validate.finite_array("state['last_gradient']", state["last_gradient"], shape=(self.dim,))

    def _apply_state(self, state: dict[str, Any]) -> None:
        super()._apply_state(state)
        with torch.no_grad():
            self.mean_tensor.copy_(torch.as_tensor(np.asarray(state["mean"], dtype=np.float64)))
        opt = state["optimizer"]
        self.optimizer.load_state_dict(
            {
                "state": {k: {n: (torch.as_tensor(np.array(v)) if isinstance(v, np.ndarray) else v) for n, v in s.items()} for k, s in opt["state"].items()},
                "param_groups": copy.deepcopy(opt["param_groups"]),
            }
        )
        self.last_gradient = None if state["last_gradient"] is None else np.array(state["last_gradient"])
