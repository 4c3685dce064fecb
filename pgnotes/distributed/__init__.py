"""Distributed evolution strategies on ``torch.distributed`` (chapter 6).

* :mod:`~pgnotes.distributed.noise_table` -- the shared noise table (one copy per host);
* :mod:`~pgnotes.distributed.algorithm` -- the per-worker pieces of Algorithm 2 and the config;
* :mod:`~pgnotes.distributed.spmd_es` -- Algorithm 2 (seed-only communication) under torchrun;
* :mod:`~pgnotes.distributed.naive` -- the baseline that ships full parameter vectors;
* :mod:`~pgnotes.distributed.tasks` -- CartPole/MuJoCo policy rollouts, environment variants;
* :mod:`~pgnotes.distributed.launcher` -- run torchrun from Python or a notebook.

Importing this package does not import ``torch.distributed`` workers or start processes.
"""

from pgnotes.distributed.algorithm import ESConfig, es_gradient_from_table, partition, theta_digest
from pgnotes.distributed.noise_table import NoiseTable, shared_noise_table

__all__ = ["ESConfig", "NoiseTable", "es_gradient_from_table", "partition", "shared_noise_table", "theta_digest"]
