"""Chapter 1: every analytic score against torch autograd and against finite differences."""

import numpy as np
import pytest
import torch

from pgnotes import score

RNG = np.random.default_rng(20261121)


def finite_difference(fn, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function of an array."""
    grad = np.zeros_like(theta)
    for index in np.ndindex(theta.shape):
        step = np.zeros_like(theta)
        step[index] = h
        grad[index] = (fn(theta + step) - fn(theta - step)) / (2 * h)
    return grad


@pytest.fixture
def diagonal():
    d = 4
    return RNG.normal(size=d), np.exp(RNG.normal(size=d) * 0.5), RNG.normal(size=(6, d))


def test_gaussian_log_prob_matches_torch(diagonal):
    mean, std, x = diagonal
    expected = torch.distributions.Normal(torch.tensor(mean), torch.tensor(std)).log_prob(torch.tensor(x)).sum(-1)
    np.testing.assert_allclose(score.gaussian_log_prob(x, mean, std), expected.numpy(), rtol=1e-12)


def test_gaussian_scores_match_autograd(diagonal):
    mean, std, x = diagonal
    mean_t = torch.tensor(mean, requires_grad=True)
    log_std_t = torch.tensor(np.log(std), requires_grad=True)
    for row in range(x.shape[0]):
        mean_t.grad = log_std_t.grad = None
        torch.distributions.Normal(mean_t, log_std_t.exp()).log_prob(torch.tensor(x[row])).sum().backward()
        np.testing.assert_allclose(score.gaussian_score_mean(x[row], mean, std), mean_t.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(score.gaussian_score_log_std(x[row], mean, std), log_std_t.grad.numpy(), rtol=1e-10)


def test_gaussian_scores_match_finite_differences(diagonal):
    mean, std, x = diagonal
    point = x[0]
    fd_mean = finite_difference(lambda m: score.gaussian_log_prob(point, m, std), mean)
    fd_log_std = finite_difference(lambda s: score.gaussian_log_prob(point, mean, np.exp(s)), np.log(std))
    np.testing.assert_allclose(score.gaussian_score_mean(point, mean, std), fd_mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(score.gaussian_score_log_std(point, mean, std), fd_log_std, rtol=1e-6, atol=1e-8)


def test_isotropic_log_std_score_is_sum_over_dimensions(diagonal):
    mean, _, x = diagonal
    sigma = 0.7
    fd = finite_difference(lambda s: score.gaussian_log_prob(x[1], mean, np.exp(s[0])), np.array([np.log(sigma)]))[0]
    assert score.gaussian_score_log_std(x[1], mean, sigma) == pytest.approx(fd, rel=1e-6)
    assert score.gaussian_score_log_std(x, mean, sigma).shape == (x.shape[0],)


def random_cholesky(d: int) -> np.ndarray:
    a = RNG.normal(size=(d, d))
    return np.linalg.cholesky(a @ a.T + d * np.eye(d))


def test_mvn_log_prob_and_scores_match_autograd():
    d = 3
    mean, chol, x = RNG.normal(size=d), random_cholesky(d), RNG.normal(size=(5, d))
    mean_t = torch.tensor(mean, requires_grad=True)
    chol_t = torch.tensor(chol, requires_grad=True)
    dist = torch.distributions.MultivariateNormal(mean_t, scale_tril=chol_t)
    np.testing.assert_allclose(score.mvn_log_prob(x, mean, chol), dist.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    score_mean, score_chol = score.mvn_score(x, mean, chol)
    for row in range(x.shape[0]):
        mean_t.grad = chol_t.grad = None
        torch.distributions.MultivariateNormal(mean_t, scale_tril=chol_t).log_prob(torch.tensor(x[row])).backward()
        np.testing.assert_allclose(score_mean[row], mean_t.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(score_chol[row], np.tril(chol_t.grad.numpy()), rtol=1e-9, atol=1e-12)


def test_mvn_cholesky_score_matches_finite_differences():
    d = 3
    mean, chol, point = RNG.normal(size=d), random_cholesky(d), RNG.normal(size=d)
    fd = finite_difference(lambda L: score.mvn_log_prob(point, mean, np.tril(L)), chol)
    np.testing.assert_allclose(score.mvn_score(point, mean, chol)[1], np.tril(fd), rtol=1e-6, atol=1e-7)


def test_bernoulli_score_matches_autograd_and_finite_differences():
    logits = np.array([-1.3, 0.0, 2.1])
    for x in (np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])):
        logit_t = torch.tensor(logits, requires_grad=True)
        torch.distributions.Bernoulli(logits=logit_t).log_prob(torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(score.bernoulli_score(x, logits), logit_t.grad.numpy(), rtol=1e-12)
        fd = finite_difference(lambda eta: np.sum(score.bernoulli_log_prob(x, eta)), logits)
        np.testing.assert_allclose(score.bernoulli_score(x, logits), fd, rtol=1e-6, atol=1e-9)


def test_categorical_score_matches_autograd_and_finite_differences():
    logits = RNG.normal(size=5)
    for category in range(5):
        logit_t = torch.tensor(logits, requires_grad=True)
        torch.distributions.Categorical(logits=logit_t).log_prob(torch.tensor(category)).backward()
        got = score.categorical_score(np.array(category), logits)
        np.testing.assert_allclose(got, logit_t.grad.numpy(), rtol=1e-10, atol=1e-14)
        fd = finite_difference(lambda eta: score.categorical_log_prob(np.array(category), eta), logits)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-9)


def test_score_has_zero_mean_exactly_for_discrete_distributions():
    """E[score] = sum_x p(x) grad log p(x) = grad sum_x p(x) = 0, computed exactly."""
    logits = RNG.normal(size=4)
    probs = score.softmax(logits)
    expected_score = probs @ score.categorical_score(np.arange(4), logits)
    np.testing.assert_allclose(expected_score, 0.0, atol=1e-15)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: score.gaussian_score_mean([0.0], [0.0], [0.0]), "std must be > 0"),
        (lambda: score.gaussian_score_mean([np.nan], [0.0], [1.0]), "x must contain only finite"),
        (lambda: score.gaussian_log_prob(np.zeros(3), np.zeros(2), 1.0), "must broadcast"),
        (lambda: score.mvn_score(np.zeros(2), np.zeros(2), np.array([[1.0, 1.0], [0.0, 1.0]])), "lower triangular"),
        (lambda: score.mvn_score(np.zeros(2), np.zeros(2), np.array([[-1.0, 0.0], [0.0, 1.0]])), "positive diagonal"),
        (lambda: score.mvn_score(np.zeros(3), np.zeros(2), np.eye(2)), "x must have shape"),
        (lambda: score.bernoulli_score(np.array([0.5]), 0.0), "only 0 and 1"),
        (lambda: score.categorical_score(np.array([3]), np.zeros(3)), r"\[0, 2\]"),
        (lambda: score.categorical_score(np.array([0]), np.zeros(1)), "at least 2 categories"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_categorical_requires_integer_indices():
    with pytest.raises(TypeError, match="x must hold integer"):
        score.categorical_score(np.array([0.0]), np.zeros(3))
