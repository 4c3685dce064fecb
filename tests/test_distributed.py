"""Distributed ES (chapter 6): noise table, Algorithm 2's update, determinism across world sizes,
fault tolerance under SIGKILL, and bad input.

The tests that launch ``torchrun`` use a tiny CartPole job (8 directions, 6 generations, a
16-unit policy) so each takes a few seconds on an idle machine.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from pgnotes.distributed import spmd_es
from pgnotes.distributed.algorithm import (
    ESConfig,
    ESState,
    check_world_size,
    direction_draw,
    es_gradient_from_table,
    es_update,
    gather_to_arrays,
    partition,
    shaped_weights,
    theta_digest,
)
from pgnotes.distributed.launcher import LaunchError, RendezvousError, check_rendezvous, launch, torchrun_command
from pgnotes.distributed.noise_table import NoiseTable, build_noise, shared_noise_table
from pgnotes.distributed.tasks import PolicyTask, cartpole_variants

# An address reserved for documentation (TEST-NET-1, RFC 5737): nothing answers there.
UNREACHABLE = "192.0.2.1:29400"

TINY = dict(task="CartPole-v1", hidden=(8,), directions=8, generations=6, seed=3, noise_size=2**18,
            max_episode_steps=200, timeout_s=30.0)


def quiet(config):
    """Run in-process (a world of one) without printing progress lines."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return spmd_es.run(config)


# -- the noise table -----------------------------------------------------------------------------
def test_noise_table_is_a_deterministic_function_of_the_seed():
    a, b = NoiseTable.build(7, 1000), NoiseTable.build(7, 1000)
    assert a.noise.dtype == np.float32 and np.array_equal(a.noise, b.noise)
    assert not np.array_equal(a.noise, NoiseTable.build(8, 1000).noise)
    # drawn sequentially: a short table is the prefix of a long one (what verify() relies on)
    assert np.array_equal(build_noise(7, 100), a.noise[:100])
    assert abs(a.noise.mean()) < 4 / np.sqrt(1000) and abs(a.noise.std() - 1) < 0.1


def test_noise_table_slices_are_read_only_views():
    table = NoiseTable.build(1, 100)
    eps = table.get(10, 5)
    assert np.array_equal(eps, table.noise[10:15]) and not eps.flags.writeable
    with pytest.raises(ValueError, match="index"):
        table.get(96, 5)


def test_shared_noise_table_maps_one_file(tmp_path):
    first = shared_noise_table(5, 5000, local_rank=0, directory=tmp_path)
    second = shared_noise_table(5, 5000, local_rank=1, directory=tmp_path)
    assert first.path == second.path and first.path.stat().st_size == 4 * 5000
    assert isinstance(second.noise, np.memmap) and np.array_equal(second.noise, build_noise(5, 5000))
    other_job = shared_noise_table(5, 5000, local_rank=0, directory=tmp_path, tag="job2")
    assert other_job.path != first.path  # jobs side by side keep their own file
    with pytest.raises(TimeoutError, match="local rank 0"):  # a non-zero local rank waits, boundedly
        shared_noise_table(6, 5000, local_rank=1, directory=tmp_path, wait_s=0.2)
    first.path.write_bytes(np.zeros(5000, np.float32).tobytes())  # a stale file is detected
    with pytest.raises(RuntimeError, match="does not match seed"):
        shared_noise_table(5, 5000, local_rank=1, directory=tmp_path)
    first.unlink()
    assert not first.path.exists()


def test_noise_table_too_small_for_the_dimension_is_refused():
    table = NoiseTable.build(0, 50)
    with pytest.raises(ValueError, match="noise table too small.*dim=51"):
        table.check_dim(51)
    with pytest.raises(ValueError, match="noise table too small"):
        quiet(ESConfig(task="sphere", dim=1000, noise_size=500, directions=4, generations=1))


# -- the pieces of Algorithm 2 -------------------------------------------------------------------
@pytest.mark.parametrize("directions,world", [(8, 1), (8, 3), (7, 4), (5, 5)])
def test_partition_covers_every_direction_once(directions, world):
    blocks = [partition(directions, world, r) for r in range(world)]
    assert [k for b in blocks for k in b] == list(range(directions))
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_world_larger_than_population_is_refused():
    with pytest.raises(ValueError, match="world size 5 is larger than the population's 4 directions"):
        check_world_size(5, 4)
    with pytest.raises(ValueError, match="world size 3"):  # before anything is launched
        launch(ESConfig(directions=2, generations=1), nproc=3, progress=False)


def test_direction_draw_depends_only_on_seed_generation_and_direction():
    table = NoiseTable.build(0, 10_000)
    assert direction_draw(1, 2, 3, table, 100) == direction_draw(1, 2, 3, table, 100)
    draws = {direction_draw(1, 2, k, table, 100) for k in range(50)}
    assert len(draws) == 50
    assert all(0 <= i <= 10_000 - 100 for i, _ in draws)


def test_gradient_from_table_matches_the_dense_formula():
    rng = np.random.default_rng(0)
    table = NoiseTable.build(0, 5000)
    indices = rng.integers(0, 5000 - 40, size=12)
    weights = rng.normal(size=12)
    eps = np.stack([table.get(i, 40) for i in indices]).astype(np.float64)
    dense = weights @ eps / (12 * 0.1)
    assert np.allclose(es_gradient_from_table(table, indices, weights, 40, 0.1, 12), dense, rtol=1e-12, atol=1e-12)
    try:  # the chapter 3 solver's pure gradient, if present, agrees
        from pgnotes.solvers.openai_es import es_gradient
    except ImportError:
        return
    assert np.allclose(es_gradient(eps, weights, 0.1), dense, rtol=1e-12, atol=1e-12)


def test_update_does_not_depend_on_how_the_population_was_split():
    """Rows gathered in any rank order (any world size) give bitwise the same update."""
    rng = np.random.default_rng(1)
    table = NoiseTable.build(0, 20_000)
    config = ESConfig(task="sphere", dim=300, directions=9)
    rows = np.column_stack([np.arange(9), rng.integers(0, 19_000, 9), rng.normal(size=(9, 2))])
    digests = set()
    for world in (1, 2, 4):
        blocks = [rows[list(partition(9, world, r))] for r in range(world)]
        width = max(len(b) for b in blocks)
        padded = [np.vstack([b, np.full((width - len(b), 4), -1.0)]) for b in blocks]
        order = rng.permutation(world)
        gathered = np.vstack([padded[r] for r in order])
        indices, returns = gather_to_arrays(gathered, 9, 2)
        state = ESState(np.zeros(300, np.float32), config.lr, config.weight_decay)
        es_update(state, table, indices, returns, config)
        digests.add(theta_digest(state.theta))
    assert len(digests) == 1


def test_failed_evaluations_are_left_out_not_averaged_in():
    table = NoiseTable.build(0, 5000)
    config = ESConfig(task="sphere", dim=20, directions=4)
    indices = np.array([5, 900, 1700, 3000])
    returns = np.array([[1.0, 0.0], [np.nan, 2.0], [0.5, 3.0], [2.0, 1.5]])
    a = ESState(np.zeros(20, np.float32), config.lr, 0.0)
    stats = es_update(a, table, indices, returns, config)
    b = ESState(np.zeros(20, np.float32), config.lr, 0.0)
    es_update(b, table, indices[[0, 2, 3]], returns[[0, 2, 3]], config)
    assert stats["failed_directions"] == 1 and np.array_equal(a.theta, b.theta)
    with pytest.raises(RuntimeError, match="every evaluation"):
        es_update(a, table, indices, np.full((4, 2), np.nan), config)


def test_antithetic_weights_are_rank_differences():
    w = shaped_weights(np.array([[3.0, 1.0], [0.0, 2.0]]))
    # ranks of [3, 1, 0, 2] are [3, 1, 0, 2] / 3 - 0.5
    assert np.allclose(w, [(1.0 - 1 / 3 * 1) - 0, (0 - 2 / 3)])


def test_multi_environment_variants_change_the_physics():
    variants = cartpole_variants(3, seed=0)
    assert len({v["length"] for v in variants}) == 3
    task = PolicyTask("CartPole-v1", (4,), 50, variants=variants)
    theta = task.initial_theta(0)
    per_variant = task.evaluate_on(theta, variants, [0])
    assert per_variant.shape == (3, 1)
    assert task.evaluate(theta, 0) == pytest.approx(per_variant.mean())


# -- runs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run in this process (a world of one)."""
    return quiet(ESConfig(**TINY))


def test_same_seed_same_parameters_in_process(reference):
    again = quiet(ESConfig(**TINY))
    assert again["theta_sha256"] == reference["theta_sha256"]
    assert quiet(ESConfig(**{**TINY, "seed": 4}))["theta_sha256"] != reference["theta_sha256"]


def test_checkpoint_resume_in_process_is_bitwise_exact(tmp_path, reference):
    ckpt = str(tmp_path / "es.ckpt")
    quiet(ESConfig(**{**TINY, "generations": 4, "checkpoint": ckpt, "checkpoint_every": 2}))
    resumed = quiet(ESConfig(**{**TINY, "checkpoint": ckpt, "checkpoint_every": 2}))
    assert resumed["theta_sha256"] == reference["theta_sha256"]
    with pytest.raises(ValueError, match="another run.*sigma"):  # a checkpoint of another run is refused
        quiet(ESConfig(**{**TINY, "sigma": 0.2, "checkpoint": ckpt}))


def test_naive_baseline_refuses_what_it_does_not_implement(capsys):
    from pgnotes.distributed import naive

    with pytest.raises(ValueError, match="does not implement checkpoint"):
        naive.main(["--checkpoint", "es.ckpt", "--directions", "2", "--generations", "1"])
    assert '"event": "error"' in capsys.readouterr().out


@pytest.fixture(scope="module")
def two_workers():
    """The same run by 2 workers under torchrun."""
    return launch(ESConfig(**TINY), nproc=2, progress=False, timeout_s=180).result


@pytest.mark.parametrize("workers", [2, 4])
def test_bitwise_identical_parameters_for_1_2_and_4_workers(workers, reference, two_workers):
    result = two_workers if workers == 2 else launch(ESConfig(**TINY), nproc=workers, progress=False, timeout_s=180).result
    assert result["world_size"] == workers
    assert result["theta_sha256"] == reference["theta_sha256"]
    assert result["theta"] == reference["theta"]


def test_sigkill_mid_generation_resumes_to_the_same_parameters(tmp_path, reference):
    config = ESConfig(**{**TINY, "checkpoint": str(tmp_path / "es.ckpt"), "checkpoint_every": 2, "kill_at": "3:1"})
    result = launch(config, nproc=2, max_restarts=1, progress=False, timeout_s=180)
    assert result.restarts == 1
    starts = [e for e in result.events if e["event"] == "start" and e["restart"] == 1]
    assert {e["resumed_from"] for e in starts} == {2}  # the checkpoint after generation 2
    assert result.result["theta_sha256"] == reference["theta_sha256"]


def test_a_stuck_worker_ends_in_the_collective_timeout_not_a_hang():
    config = ESConfig(**{**TINY, "hang_at": "1:1", "timeout_s": 3.0})
    start = time.monotonic()
    with pytest.raises(LaunchError, match="Timed out"):
        launch(config, nproc=2, max_restarts=0, progress=False, timeout_s=180)
    assert time.monotonic() - start < 120


def test_full_vector_baseline_gives_the_same_parameters_with_more_traffic(reference, two_workers):
    naive = launch(ESConfig(**TINY), nproc=2, module="naive", progress=False, timeout_s=180).result
    assert naive["theta_sha256"] == reference["theta_sha256"]
    dim = naive["dim"]
    assert naive["history"][0]["bytes"] > 4 * 8 * dim  # at least the 8 vectors of rank 1's block
    # seed-only: 2 ranks each receive the other's 4 rows of [k, index, F+, F-] (float64)
    assert {h["bytes"] for h in two_workers["history"]} == {2 * 4 * 4 * 8}


# -- rendezvous ----------------------------------------------------------------------------------
def test_unreachable_rendezvous_fails_clearly_and_quickly():
    start = time.monotonic()
    with pytest.raises(RendezvousError, match="unreachable"):
        check_rendezvous(UNREACHABLE, timeout_s=1.5)
    with pytest.raises(RendezvousError, match="unreachable"):
        launch(ESConfig(directions=4, generations=1), nproc=1, nnodes=2, rdzv_endpoint=UNREACHABLE,
               rendezvous_timeout_s=1.5, progress=False)
    assert time.monotonic() - start < 10
    with pytest.raises(RendezvousError, match="cannot be resolved"):
        check_rendezvous("no-such-host.invalid:29400", timeout_s=1.0)
    assert check_rendezvous("127.0.0.1:29400", timeout_s=1.0) is True  # local: torchrun hosts it


def test_torchrun_command_for_several_machines():
    cmd = torchrun_command(["--generations", "3"], 8, nnodes=2, rdzv_endpoint="10.0.0.1:29400", max_restarts=3)
    joined = " ".join(cmd)
    assert "--nnodes 2" in joined and "--rdzv-endpoint 10.0.0.1:29400" in joined and "--standalone" not in joined
    assert "--max-restarts 3" in joined and "join_timeout=30,read_timeout=30" in joined
    with pytest.raises(ValueError, match="rdzv_endpoint"):
        torchrun_command([], 2, nnodes=2)


def test_policy_task_builds_its_policy_from_a_seed_without_touching_torch_global_state():
    """PolicyTask's initial parameters depend on the seed only; torch's global generator is left as it was."""
    import torch

    task = PolicyTask("CartPole-v1", (4,), 20)
    before = torch.random.get_rng_state()
    a, b = task.initial_theta(7), task.initial_theta(7)
    assert torch.equal(torch.random.get_rng_state(), before)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.size == task.dim and not np.array_equal(a, task.initial_theta(8))
    assert task.episode(0)[1] <= 20  # the step limit (max_steps) ends the episode
