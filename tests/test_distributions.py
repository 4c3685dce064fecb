"""Chapter 2: Gaussian search distributions: sampling, log_prob, score and Fisher, checked three ways."""

import numpy as np
import pytest
import torch

from pgnotes.distributions import DiagonalGaussian, FullGaussian, IsotropicGaussian, make_distribution

RNG = np.random.default_rng(20261121)
D = 3


def _full():
    A = RNG.normal(size=(D, D))
    return FullGaussian.from_covariance(RNG.normal(size=D), A @ A.T + 0.5 * np.eye(D))


FAMILIES = {
    "isotropic": lambda: IsotropicGaussian(RNG.normal(size=D), 0.7),
    "diagonal": lambda: DiagonalGaussian(RNG.normal(size=D), np.exp(RNG.normal(size=D) * 0.5)),
    "full": _full,
}


@pytest.fixture(params=list(FAMILIES))
def dist(request):
    return FAMILIES[request.param]()


def torch_log_prob(dist, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same log-density written in torch from the flat parameters, for autograd."""
    d = dist.dim
    mean = theta[:d]
    if isinstance(dist, IsotropicGaussian):
        scale_tril = torch.eye(d, dtype=theta.dtype) * theta[d].exp()
    elif isinstance(dist, DiagonalGaussian):
        scale_tril = torch.diag(theta[d:].exp())
    else:
        L = torch.diag(theta[d : 2 * d].exp())
        rows, cols = np.tril_indices(d, -1)
        L = L.index_put((torch.as_tensor(rows), torch.as_tensor(cols)), theta[2 * d :])
        scale_tril = L
    return torch.distributions.MultivariateNormal(mean, scale_tril=scale_tril).log_prob(x)


def test_params_round_trip(dist):
    again = dist.with_params(dist.params)
    np.testing.assert_allclose(again.params, dist.params)
    np.testing.assert_allclose(again.covariance, dist.covariance, atol=1e-12)
    assert dist.params.shape == (dist.num_params,)


def test_log_prob_matches_torch(dist):
    x = dist.sample(7, RNG)
    expected = torch.distributions.MultivariateNormal(
        torch.tensor(dist.mean), covariance_matrix=torch.tensor(dist.covariance)
    ).log_prob(torch.tensor(x))
    np.testing.assert_allclose(dist.log_prob(x), expected.numpy(), rtol=1e-10)
    np.testing.assert_allclose(dist.log_prob(x[0]), expected.numpy()[0], rtol=1e-10)


def test_score_matches_autograd(dist):
    x = dist.sample(5, RNG)
    theta = torch.tensor(dist.params, requires_grad=True)
    for row in x:
        theta.grad = None
        torch_log_prob(dist, theta, torch.tensor(row)).backward()
        np.testing.assert_allclose(dist.score(row), theta.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert dist.score(x).shape == (5, dist.num_params)


def test_score_matches_finite_differences(dist):
    x = dist.sample(1, RNG)[0]
    theta, h = dist.params, 1e-6
    fd = np.array([(dist.with_params(theta + h * e).log_prob(x) - dist.with_params(theta - h * e).log_prob(x)) / (2 * h)
                   for e in np.eye(theta.size)])
    np.testing.assert_allclose(dist.score(x), fd, rtol=1e-5, atol=1e-7)


def test_fisher_is_hessian_of_kl(dist):
    """F = Hessian of KL(p_theta0 || p_theta) at theta = theta0 (exact, by torch autograd)."""
    theta0 = torch.tensor(dist.params)

    def kl(theta):
        d = dist.dim
        p = torch.distributions.MultivariateNormal(theta0[:d], scale_tril=_tril(dist, theta0))
        q = torch.distributions.MultivariateNormal(theta[:d], scale_tril=_tril(dist, theta))
        return torch.distributions.kl_divergence(p, q)

    hessian = torch.autograd.functional.hessian(kl, theta0.clone())
    np.testing.assert_allclose(dist.fisher(), hessian.numpy(), rtol=1e-8, atol=1e-10)


def _tril(dist, theta):
    d = dist.dim
    if isinstance(dist, IsotropicGaussian):
        return torch.eye(d, dtype=theta.dtype) * theta[d].exp()
    if isinstance(dist, DiagonalGaussian):
        return torch.diag(theta[d:].exp())
    L = torch.diag(theta[d : 2 * d].exp())
    rows, cols = np.tril_indices(d, -1)
    return L.index_put((torch.as_tensor(rows), torch.as_tensor(cols)), theta[2 * d :])


def test_score_mean_zero_and_covariance_is_fisher(dist):
    """Statistical: E[g] = 0 and E[g g^T] = F, within 5 standard errors per entry."""
    n = 200_000
    g = dist.score(dist.sample(n, np.random.default_rng(7)))
    z_mean = g.mean(0) / (g.std(0, ddof=1) / np.sqrt(n))
    assert np.max(np.abs(z_mean)) < 5
    outer = g[:, :, None] * g[:, None, :]
    z_fisher = (outer.mean(0) - dist.fisher()) / (outer.std(0, ddof=1) / np.sqrt(n))
    assert np.max(np.abs(z_fisher)) < 5


def test_sampling_is_reparameterized_and_seeded(dist):
    x, eps = dist.sample(4, 3, return_noise=True)
    np.testing.assert_allclose(x, dist.mean + eps @ dist.cholesky.T)
    np.testing.assert_array_equal(dist.sample(4, 3), x)
    big = dist.sample(100_000, 11)
    np.testing.assert_allclose(np.cov(big.T), dist.covariance, atol=0.05 * np.abs(dist.covariance).max())


def test_entropy_matches_torch(dist):
    expected = torch.distributions.MultivariateNormal(torch.tensor(dist.mean), covariance_matrix=torch.tensor(dist.covariance)).entropy()
    assert dist.entropy() == pytest.approx(float(expected), rel=1e-10)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="sigma"):
        IsotropicGaussian(np.zeros(2), -1.0)
    with pytest.raises(ValueError, match="std"):
        DiagonalGaussian(np.zeros(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="cholesky"):
        FullGaussian(np.zeros(2), [[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="covariance"):
        FullGaussian.from_covariance(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="theta"):
        DiagonalGaussian.from_params(np.zeros(3), 2)
    with pytest.raises(ValueError, match="x must have shape"):
        IsotropicGaussian(np.zeros(2)).log_prob(np.zeros(3))
    with pytest.raises(ValueError, match="mean"):
        IsotropicGaussian([np.nan, 0.0])
    with pytest.raises(ValueError, match="kind"):
        make_distribution("cauchy", np.zeros(2))
    with pytest.raises(ValueError, match="n must"):
        IsotropicGaussian(np.zeros(2)).sample(0, 0)
