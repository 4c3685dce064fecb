"""Seeded construction without global random state: torch modules initialized from a seed.

Randomness in pgnotes is explicit (a seed or a ``numpy.random.Generator``), never global state.
torch initializes ``nn.Linear`` and friends from its global generator; :func:`torch_seeded`
runs such code with that generator seeded and restores the generator's previous state on
exit, so building a policy from a seed neither depends on nor changes anything outside it.
Used wherever a policy or model is built from a seed (chapters 2, 3, 4, 6, 7).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Run the body with torch's CPU generator seeded by ``seed``; its previous state is restored after.

    The numbers drawn inside are those of ``torch.manual_seed(seed)`` followed by the same calls,
    so code that used ``torch.manual_seed`` keeps its results bit for bit.
    """
    import torch

    from pgnotes import _validate

    seed = _validate.seed("seed", seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
