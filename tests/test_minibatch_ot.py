"""Sinkhorn distances and OT-GAN's minibatch energy distance (gancourse.metrics.minibatch_ot):
hand-computed costs, agreement with POT, the marginals of the plan, the bias of a plain minibatch
distance and the zero mean of the energy distance for identical distributions."""
import numpy as np
import ot
import pytest
import torch

from gancourse.metrics import minibatch_ot as mo

pytestmark = pytest.mark.usefixtures("one_thread")


def gauss(n, d=4, shift=0.0, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_cost_matrix_hand_values():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [-1.0, 0.0], [1.0, 1.0]])
    c = mo.cost_matrix(a, b, "cosine")
    want = torch.tensor([[0.0, 2.0, 1 - 2 ** -0.5], [1.0, 1.0, 1 - 2 ** -0.5]])
    assert torch.allclose(c, want, atol=1e-6)
    assert torch.allclose(mo.cost_matrix(a, b, "euclidean")[0], torch.tensor([2.0, 2.0, 1.0]))
    assert torch.allclose(mo.cost_matrix(a, b, "sqeuclidean")[1], torch.tensor([13.0, 5.0, 2.0]))


def test_sinkhorn_plan_has_uniform_marginals():
    c = mo.cost_matrix(gauss(30), gauss(20, seed=1), "euclidean")
    plan = mo.sinkhorn_plan(c, eps=0.1, n_iter=500)
    assert plan.shape == (30, 20) and (plan >= 0).all()
    assert torch.allclose(plan.sum(1), torch.full((30,), 1 / 30, dtype=plan.dtype), atol=1e-8)
    assert torch.allclose(plan.sum(0), torch.full((20,), 1 / 20, dtype=plan.dtype), atol=1e-8)


@pytest.mark.parametrize("cost", ["cosine", "euclidean"])
@pytest.mark.parametrize("eps", [0.5, 0.05])
def test_sinkhorn_distance_matches_pot(cost, eps):
    a, b = gauss(40), gauss(25, shift=0.7, seed=2)
    mine = mo.sinkhorn_distance(a, b, eps=eps, n_iter=5000, cost=cost).item()
    c = mo.cost_matrix(a, b, cost).numpy()
    ref = ot.sinkhorn2(np.full(40, 1 / 40), np.full(25, 1 / 25), c, eps, method="sinkhorn_log",
                       numItermax=20000, stopThr=1e-13)
    assert mine == pytest.approx(float(ref), rel=1e-6)


def test_small_eps_approaches_the_exact_transport_cost():
    a, b = gauss(30), gauss(30, shift=1.0, seed=3)
    exact = ot.emd2(np.full(30, 1 / 30), np.full(30, 1 / 30), mo.cost_matrix(a, b, "euclidean").numpy())
    coarse = mo.sinkhorn_distance(a, b, eps=1.0, n_iter=500, cost="euclidean").item()
    fine = mo.sinkhorn_distance(a, b, eps=0.01, n_iter=3000, cost="euclidean").item()
    assert exact <= fine + 1e-9 < coarse                    # regularised plans cost more
    assert fine == pytest.approx(exact, rel=0.02)


def test_two_point_batches_by_hand():
    """X = {0, 2}, Y = {1, 3} on a line: the exact plan matches in order, cost (1 + 1) / 2 = 1."""
    x, y = torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0], [3.0]])
    w = mo.sinkhorn_distance(x, y, eps=0.01, n_iter=2000, cost="euclidean")
    assert w.item() == pytest.approx(1.0, abs=1e-3)
    # X' = X: W(X, X') = 0; Y' = Y: W(Y, Y') = 0, so D² = 4 W(X, Y) = 4
    med = mo.minibatch_energy_distance(x, x, y, y, eps=0.01, n_iter=2000, cost="euclidean")
    assert med.item() == pytest.approx(4.0, abs=5e-3)


def test_sinkhorn_distance_is_differentiable():
    a = gauss(10).requires_grad_(True)
    mo.sinkhorn_distance(a, gauss(12, shift=1.0, seed=1), eps=0.1, n_iter=50, cost="euclidean").backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_minibatch_distance_is_biased_and_the_energy_distance_is_not():
    p = gauss(4000, seed=10)
    p2 = gauss(4000, seed=11)                                   # the same distribution
    q = gauss(4000, shift=0.5, seed=12)
    w_same_small = mo.minibatch_distance(p, p2, batch_size=20, rounds=20, eps=0.3, cost="euclidean")[0]
    w_same_large = mo.minibatch_distance(p, p2, batch_size=160, rounds=3, eps=0.3, cost="euclidean")[0]
    assert w_same_small > w_same_large > 0.5                    # > 0 for P = Q, shrinking with m
    med_same, sd_same = mo.med_between_sets(p, p2, batch_size=50, rounds=30, eps=0.3, cost="euclidean")
    med_diff, _ = mo.med_between_sets(p, q, batch_size=50, rounds=30, eps=0.3, cost="euclidean")
    assert abs(med_same) < 3 * sd_same / np.sqrt(30) + 0.02     # mean ≈ 0 within its standard error
    assert med_diff > 10 * abs(med_same) and med_diff > 0.2


def test_errors_name_the_problem():
    a = torch.randn(10, 3)
    with pytest.raises(ValueError, match="unknown cost 'l1'; valid costs are cosine, euclidean, sqeuclidean"):
        mo.cost_matrix(a, a, "l1")
    with pytest.raises(ValueError, match="same number of features, got 3 and 2"):
        mo.cost_matrix(a, torch.randn(4, 2))
    with pytest.raises(ValueError, match="2-D array"):
        mo.cost_matrix(torch.randn(3), a)
    with pytest.raises(ValueError, match="eps must be positive"):
        mo.sinkhorn_plan(torch.zeros(2, 2), eps=0.0)
    with pytest.raises(ValueError, match=r"feats_b has 10 rows; 2 disjoint batch\(es\) of 8 need at"):
        mo.med_between_sets(torch.randn(40, 3), a, batch_size=8)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        mo.minibatch_distance(a, a, batch_size=1)
