"""Collapse metrics: Dong et al.'s composite norm and residual, cosine similarity of tokens."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linprog, minimize
from sklearn.metrics.pairwise import cosine_similarity

from hopdyn import collapse as C

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def composite(r):
    return np.sqrt(np.linalg.norm(r, 1) * np.linalg.norm(r, np.inf))


def test_composite_norm_matches_numpy_matrix_norms(rng):
    x = rng.normal(size=(4, 5, 7))
    got = C.norm_1inf(x).numpy()
    np.testing.assert_allclose(got, [composite(m) for m in x], rtol=1e-14)


def min_linf_residual(x):
    """min_x ‖X − 1xᵀ‖_∞ (largest row sum) as a linear program."""
    t, d = x.shape
    # variables: c (d), e (t*d) with e_ij ≥ |X_ij − c_j|, s ≥ Σ_j e_ij; minimise s
    n = d + t * d + 1
    cost = np.zeros(n)
    cost[-1] = 1
    rows, rhs = [], []
    for i in range(t):
        for j in range(d):
            for sign in (1, -1):
                r = np.zeros(n)
                r[j], r[d + i * d + j] = sign, -1  # ±(c_j − X_ij) ≤ e_ij
                rows.append(r)
                rhs.append(sign * x[i, j])
        r = np.zeros(n)
        r[d + i * d: d + (i + 1) * d], r[-1] = 1, -1
        rows.append(r)
        rhs.append(0.0)
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=[(None, None)] * n, method="highs")
    return res.fun


@pytest.mark.parametrize("seed", range(4))
def test_mean_centred_residual_is_within_the_proven_factor_of_the_minimum(seed):
    rng = np.random.default_rng(seed)
    t, d = 5, 3
    x = rng.standard_t(2, size=(t, d))  # heavy tails: mean and minimiser differ
    res_mean = float(C.residual_norm(x))
    # an upper bound on the minimum: numerical minimisation over x, started at the mean
    f = lambda c: composite(x - c[None])  # noqa: E731
    starts = [x.mean(0), np.median(x, 0), *rng.normal(size=(4, d))]
    res_up = min(minimize(f, s, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=4000)).fun
                 for s in starts)
    # a lower bound: each factor at its own minimum (column medians for ‖·‖_1, an LP for ‖·‖_∞)
    a_min = np.abs(x - np.median(x, 0)).sum(0).max()
    lower = np.sqrt(a_min * min_linf_residual(x))
    assert lower <= res_up * (1 + 1e-9)
    assert res_up <= res_mean * (1 + 1e-12)
    assert res_mean <= 2 * (1 - 1 / t) * res_up * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (5, 3), elements=finite), arrays(np.float64, (3,), elements=finite),
       st.floats(0.1, 10))
def test_residual_ignores_a_common_token_and_scales(x, c, s):
    base = float(C.residual_norm(x))
    assert float(C.residual_norm(x + c)) == pytest.approx(base, rel=1e-9, abs=1e-9)
    assert float(C.residual_norm(s * x)) == pytest.approx(s * base, rel=1e-9, abs=1e-9)
    assert float(C.relative_residual(x)) <= 2 + 1e-12


def test_rank_one_token_matrix_has_zero_residual_and_unit_cosine():
    x = torch.ones(6, 1, dtype=torch.float64) * torch.tensor([[0.5, -2.0, 3.0]], dtype=torch.float64)
    assert float(C.residual_norm(x)) == 0.0
    assert float(C.relative_residual(x)) == 0.0
    assert float(C.mean_cosine_similarity(x)) == pytest.approx(1.0, abs=1e-15)
    assert float(C.cosine_gap(x)) <= 1e-30
    assert float(C.relative_residual(torch.zeros(3, 2))) == 0.0


def test_cosine_against_scikit_learn(rng):
    x = rng.normal(size=(3, 9, 4))
    x[1, 2] = 0.0  # a zero token: cosine 0 with every other token, as in scikit-learn
    got = C.mean_cosine_similarity(x).numpy()
    for b in range(3):
        s = cosine_similarity(x[b])
        expected = (s.sum() - np.trace(s)) / (9 * 8)
        assert got[b] == pytest.approx(expected, abs=1e-14)
    np.testing.assert_allclose(C.cosine_gap(x).numpy(), 1 - got, atol=1e-14)


def test_cosine_gap_keeps_its_digits_near_collapse(rng):
    base = rng.normal(size=(1, 5))
    x = base + 1e-9 * rng.normal(size=(8, 5))  # nearly collapsed: 1 − cos ≈ 1e-18
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    diff = u[:, None] - u[None]
    exact = (diff**2).sum(-1).sum() / 2 / (8 * 7)  # 1 − cos_ij = ‖u_i − u_j‖²/2, no cancellation
    assert exact < 1e-15
    assert float(C.cosine_gap(x)) == pytest.approx(exact, rel=1e-6)


def test_metrics_batch_over_leading_dims():
    x = torch.randn(4, 2, 6, 3)
    m = C.collapse_metrics(x)
    assert set(m) == {"residual", "relative_residual", "cosine", "cosine_gap"}
    assert all(v.shape == (4, 2) and v.dtype == torch.float32 for v in m.values())


def test_bad_input():
    with pytest.raises(ValueError, match="x must have at least 2"):
        C.residual_norm(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        C.norm_1inf(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="at least 2 tokens"):
        C.mean_cosine_similarity(np.ones((1, 3)))
