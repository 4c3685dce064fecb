r"""The pieces of distributed OpenAI ES that every worker runs identically (chapter 6).

Salimans et al. (2017), Algorithm 2 (parallelized evolution strategies): each of the
:math:`n` perturbations :math:`\epsilon_k` is identified by a *direction number* ``k`` and
drawn from a per-direction random stream seeded by ``(seed, generation, k)``; the stream gives
an index into the shared :class:`~pgnotes.distributed.noise_table.NoiseTable` (so
:math:`\epsilon_k` = ``table[index : index + dim]``) and the seed of the episodes that evaluate
it. Nothing here depends on how many workers there are or which worker evaluated ``k``:

* :func:`direction_draw` -- ``(index, episode_seed)`` of direction ``k`` at a generation;
* :func:`partition` -- the contiguous block of directions a rank evaluates;
* :func:`es_gradient_from_table` -- the search gradient
  :math:`g = \frac{1}{n\sigma}\sum_j u_j \epsilon_j` rebuilt from gathered indices and
  shaped returns, summed in direction order in float64 (a fixed order, so the result is
  bitwise the same on every worker and for every world size);
* :class:`ESState` -- the parameter vector :math:`\theta` and its ``torch.optim.Adam``
  optimizer (OpenAI ES uses Adam with L2 weight decay), with checkpoint state;
* :class:`ESConfig` -- every setting of a run, as a dataclass (also the command line).

Fitness is **maximized**. With ``antithetic=True`` (the default, as in OpenAI's code) each
direction is evaluated at :math:`\theta + \sigma\epsilon_k` and :math:`\theta - \sigma\epsilon_k`
on the same episode seeds, and the population is ``2 * directions``.

One module of about 430 lines (half of it :class:`ESConfig` and its documentation) so that
everything that decides a worker's numbers, settings included, is in one file: a change here
is a change to every worker alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from pgnotes import _validate
from pgnotes.distributed.noise_table import NoiseTable
from pgnotes.shaping import SHAPINGS, check_shaping, shape_fitness  # noqa: F401 (algorithm.SHAPINGS)


@dataclass
class ESConfig:
    """Settings of a distributed ES run (defaults: a small CartPole job).

    Attributes
    ----------
    task : str
        A Gymnasium id (``"CartPole-v1"``, ``"HalfCheetah-v5"``, ...) or ``"sphere"`` (a
        synthetic fitness :math:`-\\|x - 0.5\\|^2` of dimension ``dim``, no environment).
    hidden : tuple of int
        Hidden layer sizes of the MLP policy (``()`` for a linear policy).
    dim : int
        Parameter dimension for ``task="sphere"`` (ignored for environments).
    directions : int
        Number of perturbation directions per generation (population = 2x with antithetic).
    antithetic : bool
        Evaluate :math:`\\theta \\pm \\sigma\\epsilon` pairs (mirrored sampling).
    sigma : float
        Noise standard deviation (default 0.1; OpenAI used 0.02 with bigger populations).
    lr : float
        Adam step size (default 0.05; OpenAI: 0.01).
    weight_decay : float
        L2 coefficient added to the gradient (OpenAI: 0.005).
    shaping : str
        ``"centered_ranks"`` (OpenAI), ``"none"`` (raw returns), or another name of
        :func:`pgnotes.shaping.shape_fitness`.
    generations : int
        Number of generations (updates) in total, counting those before a resume.
    seed : int
        Seeds everything: the noise table, the initial policy, directions and episodes.
    noise_size : int
        Entries in the shared noise table (float32); must be >= the parameter dimension.
    max_episode_steps : int
        Per-episode step limit: no episode runs longer.
    episodes : int
        Episodes per evaluation (per variant); their returns are averaged.
    variants : int
        0: the nominal environment. n > 0: multi-environment search -- every evaluation is
        averaged over ``n`` environment variants with randomized physics (CartPole only;
        see :func:`pgnotes.distributed.tasks.cartpole_variants`).
    variant_seed : int
        Seed of the variant draw (the training set of environments).
    checkpoint : str or None
        Path of the checkpoint file (written atomically by rank 0); a run that finds it
        resumes from it. None: no checkpoints.
    checkpoint_every : int
        Write the checkpoint every this many generations (and after the last).
    timeout_s : float
        Collective timeout of every generation's ``all_gather`` (a process group created with
        ``timeout=``): a collective that waits longer than this raises instead of hanging.
    setup_timeout_s : float
        Timeout of joining the group and of the start-up collectives
        (``init_process_group(timeout=...)``); workers start at different speeds.
    out : str or None
        Where rank 0 writes the result JSON (config, history, timings, final parameters).
    theta_out : str or None
        Where rank 0 writes the final parameter vector (``.npy``).
    kill_at : str or None
        Fault injection for tests and demonstrations: ``"G:R"`` makes rank ``R`` send itself
        SIGKILL in the middle of generation ``G`` (after its first evaluation), on the first
        attempt only (``TORCHELASTIC_RESTART_COUNT == 0``).
    hang_at : str or None
        Fault injection: ``"G:R"`` makes rank ``R`` stall (sleep) in generation ``G`` on the
        first attempt, to show that the collective timeout ends the wait of the others.
    timing_barrier : bool
        Benchmarks only: a barrier before each generation's collectives, so that ``gather_s``
        measures the transfer and ``wait_s`` the waiting for the slowest worker.
    """

    task: str = "CartPole-v1"
    hidden: tuple[int, ...] = (16,)
    dim: int = 1000
    directions: int = 16
    antithetic: bool = True
    sigma: float = 0.1
    lr: float = 0.05
    weight_decay: float = 0.005
    shaping: str = "centered_ranks"
    generations: int = 10
    seed: int = 0
    noise_size: int = 2**22
    max_episode_steps: int = 500
    episodes: int = 1
    variants: int = 0
    variant_seed: int = 12345
    checkpoint: str | None = None
    checkpoint_every: int = 5
    timeout_s: float = 60.0
    setup_timeout_s: float = 300.0
    out: str | None = None
    theta_out: str | None = None
    kill_at: str | None = None
    hang_at: str | None = None
    timing_barrier: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    #: Settings a resumed run may change (:func:`pgnotes.checkpoint.check_resumable`): they do not
    #: change the trajectory of theta (``generations``: a run may be extended; file paths, the
    #: collective timeouts, fault injection, benchmark barriers, extra notes).
    MAY_CHANGE: ClassVar[tuple[str, ...]] = ("generations", "checkpoint", "checkpoint_every", "timeout_s", "setup_timeout_s",
                                             "out", "theta_out", "kill_at", "hang_at", "timing_barrier", "extra")

    def __post_init__(self):
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of layer sizes, e.g. (16,), got {type(self.hidden).__name__}")
        for i, h in enumerate(self.hidden):
            _validate.integer_at_least(f"hidden[{i}]", h, 1, 10**5)
        self.hidden = tuple(int(h) for h in self.hidden)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the first bad setting."""
        _validate.string("task", self.task)
        if self.task != "sphere" and ":" not in self.task:
            _validate.env_id("task", self.task)
        _validate.integer_at_least("directions", self.directions, 1)
        _validate.integer_at_least("generations", self.generations, 0)
        _validate.integer_at_least("seed", self.seed, 0, None)
        _validate.integer_at_least("noise_size", self.noise_size, 1, _validate.MAX_ELEMENTS)
        _validate.integer_at_least("max_episode_steps", self.max_episode_steps, 1)
        _validate.integer_at_least("episodes", self.episodes, 1)
        _validate.integer_at_least("variants", self.variants, 0)
        _validate.integer_at_least("checkpoint_every", self.checkpoint_every, 1)
        _validate.integer_at_least("dim", self.dim, 1)
        _validate.positive("sigma", self.sigma)
        _validate.positive("lr", self.lr)
        _validate.non_negative("weight_decay", self.weight_decay)
        _validate.positive("timeout_s", self.timeout_s)
        _validate.positive("setup_timeout_s", self.setup_timeout_s)
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden sizes must be integers >= 1, got {self.hidden}")
        check_shaping(self.shaping, allow_callable=False)
        if not self.antithetic and self.directions < 2:
            raise ValueError(f"directions must be >= 2 without antithetic sampling (population >= 2), got {self.directions}")
        for name in ("kill_at", "hang_at"):
            if getattr(self, name) is not None:
                parse_kill_at(getattr(self, name), name)

    @property
    def popsize(self) -> int:
        """Evaluations per generation: ``directions`` times 2 (antithetic) or 1."""
        return self.directions * (2 if self.antithetic else 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ESConfig":
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TypeError(f"unknown ESConfig fields: {sorted(unknown)}")
        return cls(**d)

    def fingerprint(self) -> str:
        """Hash of the settings that determine the trajectory of theta: all but ``MAY_CHANGE``."""
        d = {k: v for k, v in self.to_dict().items() if k not in self.MAY_CHANGE}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_argv(self) -> list[str]:
        """Command-line arguments for ``python -m pgnotes.distributed.spmd_es`` giving this config."""
        argv: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                if value:
                    argv += ["--extra", json.dumps(value)]
                continue
            if value is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
            elif isinstance(value, tuple):
                argv += [flag, ",".join(str(v) for v in value)]
            else:
                argv += [flag, str(value)]
        return argv


def parse_kill_at(spec: str, name: str = "kill_at") -> tuple[int, int]:
    """``"G:R"`` -> ``(generation, rank)`` (for ``kill_at`` and ``hang_at``)."""
    try:
        gen, rank = (int(part) for part in str(spec).split(":"))
    except ValueError:
        raise ValueError(f"{name} must look like 'GENERATION:RANK', e.g. '3:1', got {spec!r}") from None
    if gen < 0 or rank < 0:
        raise ValueError(f"{name} must have generation >= 0 and rank >= 0, got {spec!r}")
    return gen, rank


def check_world_size(world_size: int, directions: int) -> None:
    """A world larger than the number of directions would leave workers idle: refuse it."""
    _validate.integer_at_least("world_size", world_size, 1)
    if world_size > directions:
        raise ValueError(
            f"world size {world_size} is larger than the population's {directions} directions: "
            f"every worker needs at least one direction to evaluate; use directions >= world size "
            f"(or fewer workers)"
        )


def partition(directions: int, world_size: int, rank: int) -> range:
    """The contiguous block of direction numbers that ``rank`` evaluates.

    Blocks differ in size by at most one; the first ``directions % world_size`` ranks get
    the larger ones. Which block a rank gets never changes the update (it is rebuilt in
    direction order), only who does the work.
    """
    check_world_size(world_size, directions)
    _validate.integer_at_least("rank", rank, 0, None)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, {world_size - 1}], got {rank}")
    base, extra = divmod(directions, world_size)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def max_block(directions: int, world_size: int) -> int:
    """Size of the largest block (all_gather needs equal sizes, smaller blocks are padded)."""
    _validate.integer_at_least("world_size", world_size, 1)
    _validate.integer_at_least("directions", directions, 1)
    return math.ceil(directions / world_size)


def direction_draw(seed: int, generation: int, k: int, table: NoiseTable, dim: int) -> tuple[int, int]:
    """``(noise index, episode seed)`` of direction ``k`` at ``generation``.

    Drawn from ``numpy.random.default_rng([seed, generation, k])``: a stream of its own for
    every direction, so the draw does not depend on the order in which a worker visits its
    directions or on the number of workers.
    """
    rng = np.random.default_rng([int(seed), int(generation), int(k)])
    index = table.sample_index(rng, dim)
    episode_seed = int(rng.integers(0, 2**31 - 1))
    return index, episode_seed


def signs(antithetic: bool) -> tuple[int, ...]:
    """Perturbation signs evaluated per direction."""
    _validate.boolean("antithetic", antithetic)
    return (1, -1) if antithetic else (1,)


def perturb(theta: np.ndarray, epsilon: np.ndarray, sigma: float, sign: int) -> np.ndarray:
    r""":math:`\theta + s\,\sigma\,\epsilon` in float32 (the one expression every code path uses)."""
    return theta + np.float32(sign * sigma) * epsilon


def shaped_weights(returns: np.ndarray, shaping: str = "centered_ranks") -> np.ndarray:
    """Per-direction weights from a ``(D, m)`` array of returns (``m`` = 2 antithetic, 1 plain).

    The shaping (:func:`pgnotes.shaping.shape_fitness`) is taken over all ``D * m`` returns in
    direction order; the weight of an antithetic direction is ``u(+) - u(-)``.
    """
    returns = _validate.finite_array("returns", returns)
    if returns.ndim != 2 or returns.shape[1] not in (1, 2):
        raise ValueError(f"returns must have shape (directions, 1 or 2), got {returns.shape}")
    u = shape_fitness(returns.ravel(), check_shaping(shaping, allow_callable=False)).reshape(returns.shape)
    return u[:, 0] - u[:, 1] if returns.shape[1] == 2 else u[:, 0]


def es_gradient_from_table(
    table: NoiseTable, indices: Sequence[int], weights: Sequence[float], dim: int, sigma: float, popsize: int
) -> np.ndarray:
    r"""Search-gradient estimate :math:`\frac{1}{n\sigma}\sum_j w_j\,\epsilon_j` with :math:`\epsilon_j` = ``table.get(indices[j], dim)``.

    ``popsize`` is :math:`n`, the number of evaluations. Accumulated in float64, one
    direction at a time in the given order, so every worker gets the same bits (no BLAS
    call whose summation order could depend on its thread count). This is line 11 of
    Algorithm 2: "reconstruct all perturbations, then update".
    """
    dim = table.check_dim(dim)
    sigma = _validate.positive("sigma", sigma)
    if len(indices) != len(weights):
        raise ValueError(f"indices and weights must have the same length, got {len(indices)} and {len(weights)}")
    _validate.finite_array("weights", weights, ndim=1)
    popsize = _validate.integer_at_least("popsize", popsize, 1)
    g = np.zeros(dim, dtype=np.float64)
    for index, w in zip(indices, weights):
        g += float(w) * table.get(int(index), dim).astype(np.float64)
    g /= popsize * sigma
    return g


def gather_to_arrays(records: np.ndarray, directions: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort gathered ``[k, index, F_1..F_m]`` rows into direction order; drop padding rows (k < 0).

    Returns ``(indices (D,), returns (D, m))``. Raises if a direction is missing or repeated.
    """
    records = np.asarray(records, dtype=np.float64).reshape(-1, 2 + m)
    records = records[records[:, 0] >= 0]
    order = np.argsort(records[:, 0], kind="stable")
    records = records[order]
    ks = records[:, 0].astype(np.int64)
    if not np.array_equal(ks, np.arange(directions)):
        raise ValueError(f"gathered directions {ks.tolist()} are not exactly 0..{directions - 1}")
    return records[:, 1].astype(np.int64), records[:, 2:]


class ESState:
    """Theta and its optimizer: the whole state of a run besides the generation counter.

    ``theta`` is a float32 numpy vector sharing memory with the ``torch`` parameter that
    ``torch.optim.Adam`` updates (maximizing: the optimizer is given ``-g`` as gradient;
    ``weight_decay`` adds the L2 term :math:`\\lambda\\theta`, as OpenAI's ``l2coeff``).
    """

    def __init__(self, theta: np.ndarray, lr: float, weight_decay: float):
        self.param = torch.nn.Parameter(torch.tensor(np.asarray(theta, dtype=np.float32)))
        self.optimizer = torch.optim.Adam([self.param], lr=lr, weight_decay=weight_decay, foreach=False)

    @property
    def theta(self) -> np.ndarray:
        """Current parameters (float32 view; do not modify)."""
        return self.param.detach().numpy()

    @property
    def dim(self) -> int:
        return int(self.param.numel())

    def step(self, gradient: np.ndarray) -> None:
        """One Adam ascent step along the search gradient ``gradient`` (float64 array)."""
        gradient = _validate.finite_array("gradient", gradient, shape=(self.dim,))
        self.param.grad = torch.from_numpy(-np.asarray(gradient, dtype=np.float64).astype(np.float32))
        self.optimizer.step()
        self.param.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.copy(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; checked first, and a rejected state leaves this one unchanged."""
        import copy

        _validate.mapping("state", state, ("theta", "optimizer"))
        theta = _validate.finite_array("state['theta']", state["theta"], shape=(self.dim,))
        _validate.mapping("state['optimizer']", state["optimizer"], ("state", "param_groups"))
        old_theta, old_optimizer = self.theta.copy(), copy.deepcopy(self.optimizer.state_dict())
        try:
            with torch.no_grad():
                self.param.copy_(torch.from_numpy(np.asarray(theta, dtype=np.float32)))
            self.optimizer.load_state_dict(state["optimizer"])
        except BaseException:
            with torch.no_grad():
                self.param.copy_(torch.from_numpy(old_theta))
            self.optimizer.load_state_dict(old_optimizer)
            raise


def es_update(
    state: ESState,
    table: NoiseTable,
    indices: np.ndarray,
    returns: np.ndarray,
    config: ESConfig,
) -> dict[str, Any]:
    """Lines 10-11 of Algorithm 2 on one worker: shape, reconstruct, step. Returns statistics.

    Directions with a non-finite return (a failed episode) are left out of the update, on
    every worker alike, and counted; if none is left the update raises.
    """
    finite = np.all(np.isfinite(returns), axis=1)
    if not finite.any():
        raise RuntimeError("every evaluation of this generation failed (non-finite returns)")
    weights = shaped_weights(returns[finite], config.shaping)
    n = int(finite.sum()) * returns.shape[1]
    g = es_gradient_from_table(table, indices[finite], weights, state.dim, config.sigma, n)
    state.step(g)
    valid = returns[finite]
    return {
        "mean_return": float(valid.mean()),
        "max_return": float(valid.max()),
        "min_return": float(valid.min()),
        "failed_directions": int((~finite).sum()),
        "grad_norm": float(np.linalg.norm(g)),
    }


def theta_digest(theta: np.ndarray) -> str:
    """SHA-256 of the float32 bytes of ``theta``: equal digests mean bitwise-equal parameters."""
    return hashlib.sha256(np.ascontiguousarray(theta, dtype=np.float32).tobytes()).hexdigest()
