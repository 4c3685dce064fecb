"""Chapter 1: the estimators are unbiased (tolerance from their standard errors) and the baseline cuts variance."""

import numpy as np
import pytest

from pgnotes import estimators, score

Z = 4.0  # |estimate - exact| <= Z standard errors; a false alarm per coordinate has probability ~6e-5


def quadratic(center):
    """f(x) = 10 - sum (x - c)^2 and its gradient; E f = 10 - sum[(mu - c)^2 + sigma^2]."""

    def f(x):
        return 10.0 - np.sum((x - center) ** 2, axis=-1)

    def grad_f(x):
        return -2.0 * (x - center)

    return f, grad_f


def exact_quadratic_gradients(mean, std, center):
    return {"mean": -2.0 * (mean - center), "log_std": -2.0 * std**2}


MEAN = np.array([0.5, -1.0, 2.0])
STD = np.array([1.0, 0.5, 2.0])
CENTER = np.array([3.0, 0.0, 1.0])


@pytest.mark.parametrize("baseline", [None, 4.0, "leave_one_out"])
def test_score_function_estimator_is_unbiased(baseline):
    f, _ = quadratic(CENTER)
    est = estimators.gaussian_score_function_gradient(f, MEAN, STD, 20_000, np.random.default_rng(1), baseline=baseline)
    exact = exact_quadratic_gradients(MEAN, STD, CENTER)
    for key in ("mean", "log_std"):
        assert np.all(np.abs(est[key].value - exact[key]) <= Z * est[key].stderr), (key, est[key], exact[key])


def test_pathwise_estimator_is_unbiased():
    _, grad_f = quadratic(CENTER)
    est = estimators.gaussian_pathwise_gradient(grad_f, MEAN, STD, 5_000, np.random.default_rng(2))
    exact = exact_quadratic_gradients(MEAN, STD, CENTER)
    for key in ("mean", "log_std"):
        assert np.all(np.abs(est[key].value - exact[key]) <= Z * est[key].stderr), (key, est[key], exact[key])
    # for a quadratic the pathwise mean-gradient terms are linear in eps: its variance is 4 sigma^2
    np.testing.assert_allclose(est["mean"].stderr * np.sqrt(5_000), 2 * STD, rtol=0.05)


def test_score_function_estimator_on_a_categorical_matches_the_exact_gradient():
    """grad E[f] = sum_x f(x) p(x) score(x), computed exactly over the 4 categories."""
    logits = np.array([0.2, -0.5, 1.0, 0.0])
    values = np.array([1.0, 3.0, -2.0, 0.5])
    probs = score.softmax(logits)
    exact = (values * probs) @ score.categorical_score(np.arange(4), logits)
    rng = np.random.default_rng(3)
    draws = rng.choice(4, size=40_000, p=probs)
    est = estimators.score_function_gradient(values[draws], score.categorical_score(draws, logits))
    assert np.all(np.abs(est.value - exact) <= Z * est.stderr)


def gauss_hermite_moment(fn, nodes=60):
    """E[fn(eps)] for eps ~ N(0, 1), exact for polynomials of degree < 2 * nodes."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return np.sum(w * fn(x)) / np.sqrt(2 * np.pi)


def test_baseline_reduces_variance_to_the_predicted_amount():
    """1-D: the per-sample variance of (f(x) - b)(x - mu)/sigma^2 with b = 0 and with b = E f.

    Exact variances (and fourth central moments) come from Gauss-Hermite quadrature; the
    sample variance of n terms has standard error sqrt((m4 - var^2) / n), and each measured
    variance must lie within Z of those of its exact value. The baseline must cut the variance.
    """
    mu, sigma, c, offset = 0.0, 1.0, 1.0, 50.0

    def f(x):
        return offset - (x - c) ** 2

    mean_f = offset - ((mu - c) ** 2 + sigma**2)

    def exact_moments(b):
        def term(e):
            return (f(mu + sigma * e) - b) * e / sigma

        m = gauss_hermite_moment(term)
        var = gauss_hermite_moment(lambda e: (term(e) - m) ** 2)
        m4 = gauss_hermite_moment(lambda e: (term(e) - m) ** 4)
        return var, m4

    n = 50_000
    rng = np.random.default_rng(4)
    x = mu + sigma * rng.standard_normal((n, 1))
    g = score.gaussian_score_mean(x, np.array([mu]), np.array([sigma]))
    measured = {
        0.0: estimators.score_function_gradient(f(x[:, 0]), g),
        mean_f: estimators.score_function_gradient(f(x[:, 0]), g, baseline=mean_f),
    }
    for b, est in measured.items():
        var, m4 = exact_moments(b)
        sample_var = est.stderr[0] ** 2 * n
        assert abs(sample_var - var) <= Z * np.sqrt((m4 - var**2) / n), (b, sample_var, var)
    assert exact_moments(mean_f)[0] < exact_moments(0.0)[0] / 100
    assert measured[mean_f].stderr[0] < measured[0.0].stderr[0] / 10


def test_pathwise_has_lower_variance_than_score_function_on_a_smooth_function():
    f, grad_f = quadratic(CENTER)
    sf = estimators.gaussian_score_function_gradient(f, MEAN, STD, 4_000, np.random.default_rng(5), baseline="leave_one_out")
    pw = estimators.gaussian_pathwise_gradient(grad_f, MEAN, STD, 4_000, np.random.default_rng(5))
    assert np.all(pw["mean"].stderr < sf["mean"].stderr)


def test_estimate_from_terms_standard_error():
    est = estimators.Estimate.from_terms(np.array([[1.0], [2.0], [3.0], [4.0]]))
    assert est.value[0] == 2.5
    assert est.stderr[0] == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_samples=1), ValueError, "num_samples must be an integer >= 2"),
        (dict(num_samples=2.5), TypeError, "num_samples must be an integer"),
        (dict(std=[1.0, 0.0, 1.0]), ValueError, "std must be > 0"),
        (dict(mean=[np.nan, 0.0, 0.0]), ValueError, "mean must contain only finite"),
        (dict(baseline="median"), ValueError, "baseline must be"),
        (dict(rng="seed"), TypeError, "rng must be"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, message):
    f, _ = quadratic(CENTER)
    args = dict(f=f, mean=MEAN, std=STD, num_samples=10, rng=0) | kwargs
    with pytest.raises(error, match=message):
        estimators.gaussian_score_function_gradient(**args)


def test_non_finite_fitness_is_rejected():
    with pytest.raises(ValueError, match="fitness must contain only finite"):
        estimators.score_function_gradient(np.array([1.0, np.nan]), np.ones((2, 1)))
    with pytest.raises(ValueError, match="f returned non-finite"):
        estimators.gaussian_score_function_gradient(lambda x: np.full(len(x), np.inf), MEAN, STD, 4, 0)


def test_scores_must_match_fitness_rows():
    with pytest.raises(ValueError, match="one row per fitness value"):
        estimators.score_function_gradient(np.ones(3), np.ones((2, 1)))
