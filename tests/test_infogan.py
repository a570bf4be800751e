"""InfoGAN (notebook 14): codes, the lower bound L_I, the networks, the trainer's hooks, and the
measurements (Hungarian code accuracy, image moments, traversal correlations)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse.gans.infogan import (
    InfoDiscriminator,
    InfoGANSetup,
    InfoGANTrainer,
    InfoGenerator,
    QHead,
    categorical_bound,
    code_accuracy,
    code_assignment,
    code_purity,
    code_vector,
    confusion_matrix,
    continuous_bound,
    gaussian_log_likelihood,
    image_moments,
    info_lower_bound,
    predict_codes,
    sample_codes,
    train_runs,
    traversal_correlation,
)
from gancourse.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- codes
def test_sample_codes_follow_the_prior():
    g = torch.Generator().manual_seed(0)
    cat, cont = sample_codes(20000, 10, 3, generator=g)
    assert cat.shape == (20000,) and cat.dtype == torch.long and cont.shape == (20000, 3)
    assert cat.min() == 0 and cat.max() == 9
    shares = torch.bincount(cat, minlength=10).float() / 20000
    assert (shares - 0.1).abs().max() < 0.015                       # uniform over 10 values
    assert cont.min() >= -1 and cont.max() <= 1 and cont.mean().abs() < 0.02
    assert abs(cont.var().item() - 1 / 3) < 0.01                    # Var U[-1, 1] = 1/3


def test_code_vector_is_one_hot_then_continuous():
    v = code_vector(torch.tensor([2, 0]), torch.tensor([[0.5, -1.0], [0.0, 0.25]]), n_cat=3)
    assert torch.equal(v, torch.tensor([[0, 0, 1, 0.5, -1.0], [1, 0, 0, 0.0, 0.25]]))
    with pytest.raises(ValueError, match="c_cat of shape"):
        code_vector(torch.tensor([[1]]), torch.zeros(1, 2), 3)


@pytest.mark.parametrize("n_cat,n_cont", [(1, 2), (-1, 2), (10, -1), (0, 0)])
def test_bad_code_sizes_are_refused(n_cat, n_cont):
    with pytest.raises(ValueError, match="n_cat|n_cont|at least one code"):
        sample_codes(4, n_cat, n_cont)


# ----------------------------------------------------------------------------- the bound
def test_categorical_bound_by_hand():
    # K = 2, Q(c = 1 | x) = 3/4: log Q + H(c) = ln(3/4) + ln 2 = ln 1.5
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert categorical_bound(logits, torch.tensor([1])).item() == pytest.approx(math.log(1.5), abs=1e-6)
    # Q that knows nothing (uniform) gives 0; a sure and right Q gives H(c) = log K
    assert categorical_bound(torch.zeros(5, 10), torch.arange(5)).item() == pytest.approx(0, abs=1e-6)
    sure = 50 * F.one_hot(torch.arange(10), 10).float()
    assert categorical_bound(sure, torch.arange(10)).item() == pytest.approx(math.log(10), abs=1e-5)
    # a sure but wrong Q is far below 0 (the bound can be negative; I itself cannot)
    assert categorical_bound(sure, (torch.arange(10) + 1) % 10).item() < -40


def test_gaussian_log_likelihood_by_hand():
    c, mu = torch.tensor([[0.5]]), torch.tensor([[0.0]])
    want = -0.5 * math.log(2 * math.pi) - 0.125
    assert gaussian_log_likelihood(c, mu).item() == pytest.approx(want, abs=1e-6)
    # learned variance σ² = 4, c − μ = 2: −½(ln 2π + ln 4) − 4 / 8
    got = gaussian_log_likelihood(torch.tensor([[2.0]]), torch.zeros(1, 1), torch.tensor([[math.log(4.0)]]))
    assert got.item() == pytest.approx(-0.5 * (math.log(2 * math.pi) + math.log(4)) - 0.5, abs=1e-6)
    # continuous part: summed over the M codes, plus H(U[-1, 1]^M) = M ln 2
    cont = torch.tensor([[0.5, -0.5], [0.0, 1.0]])
    want = (-math.log(2 * math.pi) - 0.25 + -math.log(2 * math.pi) - 0.5) / 2 + 2 * math.log(2)
    assert continuous_bound(torch.zeros(2, 2), cont).item() == pytest.approx(want, abs=1e-6)


def test_info_lower_bound_adds_its_parts_and_checks_its_arguments():
    logits, cat = torch.randn(6, 4), torch.randint(0, 4, (6,))
    mean, cont = torch.randn(6, 2), torch.rand(6, 2) * 2 - 1
    b = info_lower_bound(logits, cat, mean, cont)
    assert b["total"].item() == pytest.approx((b["cat"] + b["cont"]).item())
    assert b["cat"].item() == pytest.approx(categorical_bound(logits, cat).item())
    assert info_lower_bound(logits, cat)["cont"].item() == 0.0
    assert info_lower_bound(None, None, mean, cont)["cat"].item() == 0.0
    with pytest.raises(ValueError, match="together"):
        info_lower_bound(logits, None)
    with pytest.raises(ValueError, match="no code given"):
        info_lower_bound(None, None)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_log_likelihood(torch.zeros(3, 2), torch.zeros(3, 1))


def test_the_bound_is_tight_for_the_true_posterior_and_lower_for_any_other_q():
    """A channel that writes a 4-way code into x and flips it to a random value with
    probability 0.3: I(c; x) in closed form; L_I with the true posterior equals it, any other
    Q gives less (the gap is E KL(P(c|x) ‖ Q(c|x)))."""
    K, eps, n = 4, 0.3, 200_000
    g = torch.Generator().manual_seed(0)
    c = torch.randint(0, K, (n,), generator=g)
    flip = torch.rand(n, generator=g) < eps
    x = torch.where(flip, torch.randint(0, K, (n,), generator=g), c)
    p_same = 1 - eps + eps / K                               # P(x = c)
    posterior = torch.full((K, K), (1 - p_same) / (K - 1))    # P(c | x) as rows by x
    posterior.fill_diagonal_(p_same)
    exact_I = math.log(K) + p_same * math.log(p_same) + (1 - p_same) * math.log((1 - p_same) / (K - 1))
    tight = categorical_bound(posterior.log()[x], c).item()
    assert tight == pytest.approx(exact_I, abs=0.01)
    for q in (0.5, 0.95):                                    # wrong confidences
        other = torch.full((K, K), (1 - q) / (K - 1))
        other.fill_diagonal_(q)
        assert categorical_bound(other.log()[x], c).item() < tight - 0.005


# ----------------------------------------------------------------------------- networks
def test_network_shapes():
    G, D, Q = InfoGenerator(z_dim=8, n_cat=10, n_cont=2, ngf=8, fc=32), InfoDiscriminator(ndf=8, fc=32), \
        QHead(32, 10, 2, hidden=16)
    cat, cont = sample_codes(5, 10, 2)
    x = G(torch.randn(5, 8), code_vector(cat, cont, 10))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    s, h = D(x, features=True)
    assert s.shape == (5,) and h.shape == (5, 32) and torch.equal(s, D(x))
    logits, mean, logvar = Q(h)
    assert logits.shape == (5, 10) and mean.shape == (5, 2) and logvar is None
    _, _, logvar = QHead(32, 10, 2, learn_var=True)(h)
    assert logvar.shape == (5, 2)
    assert InfoGenerator(z_dim=4, n_cat=3, n_cont=0, ngf=4, fc=8, image_size=32)(
        torch.randn(2, 4), torch.eye(3)[:2]).shape == (2, 1, 32, 32)
    cat_only = QHead(32, 10, 0)(h)
    assert cat_only[1] is None


def test_network_errors_name_the_valid_shapes():
    G = InfoGenerator(z_dim=8, ngf=8, fc=16)
    with pytest.raises(ValueError, match=r"code vector must have shape \(2, 12\)"):
        G(torch.randn(2, 8), torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 8\)"):
        G(torch.randn(2, 9), torch.zeros(2, 12))
    with pytest.raises(ValueError, match="discriminator expects"):
        InfoDiscriminator(ndf=8, fc=16)(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="multiple of 4"):
        InfoGenerator(image_size=30)


# ----------------------------------------------------------------------------- trainer
def _trainer(steps=4, **kw):
    torch.manual_seed(0)
    G = InfoGenerator(z_dim=8, ngf=8, fc=32)
    D = InfoDiscriminator(ndf=8, fc=32)
    Q = QHead(32, 10, 2, hidden=16)
    x = torch.rand(128, 1, 28, 28) * 2 - 1
    cfg = TrainConfig(steps=steps, batch_size=16, z_dim=8, progress=False, n_samples=20,
                      **kw.pop("cfg", {}))
    return InfoGANTrainer(G, D, Q, x, cfg, device="cpu", **kw)


def test_q_head_is_its_own_parameter_group_in_the_chosen_optimiser():
    tr = _trainer(lr_q=1e-3)
    assert set(tr.networks) == {"netG", "netD", "netQ"}
    assert [g["network"] for g in tr.optD.param_groups] == ["netD", "netQ"]
    assert tr.optD.param_groups[1]["lr"] == 1e-3
    tr_g = _trainer(q_role="G")
    assert [g["network"] for g in tr_g.optG.param_groups] == ["netG", "netQ"]


def test_training_logs_the_bound_and_snapshots_cycle_the_categories(tmp_path):
    tr = _trainer(steps=6, cfg={"log_every": 2, "checkpoint_every": 3}, checkpoint=tmp_path / "c.pt")
    h = tr.fit()
    for key in ("info_cat", "info_cont", "q_acc", "info_cat_d", "loss_D", "loss_G"):
        assert len(h[key]) == 3 and np.isfinite(h[key]).all(), key
    assert max(h["info_cat"]) <= math.log(10) + 1e-6
    assert tr.snapshots[-1][1].shape == (20, 1, 28, 28)
    assert torch.equal(tr.fixed_cat[:12], torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]))
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert "netQ" in state["networks"]
    resumed = _trainer(steps=6, checkpoint=tmp_path / "c.pt")
    resumed.fit()
    assert all(torch.equal(p, q) for p, q in zip(tr.netQ.state_dict().values(),
                                                  resumed.netQ.state_dict().values()))


def test_q_learns_to_read_the_code_of_the_fakes():
    """The property InfoGAN is built on: within a few dozen steps Q reads G's categorical code
    far above chance (G learns to write it, Q to read it)."""
    tr = _trainer(steps=60, cfg={"log_every": 10, "lr_g": 1e-3})
    h = tr.fit()
    assert h["q_acc"][-1] > 0.6                                     # chance is 0.1
    assert h["info_cat"][-1] > 3 * h["info_cat"][0] > 0              # the bound grows from ~0


def _g_grads(tr, fake):
    tr.netG.zero_grad()
    tr.generator_loss(None, fake).backward()
    return torch.cat([p.grad.flatten() for p in tr.netG.parameters()])


def test_ablation_drops_l_i_from_the_generator_gradient_only():
    # batch None: the ns generator loss needs no real scores
    with_info, without, zero_lambda = (_trainer(), _trainer(info_in_g=False),
                                       _trainer(lambda_cat=0.0, lambda_cont=0.0))
    torch.manual_seed(1)
    z = torch.randn(16, 8)
    cat, cont = sample_codes(16, 10, 2, generator=torch.Generator().manual_seed(0))
    grads = {}
    for name, tr in (("info", with_info), ("none", without), ("zero", zero_lambda)):
        fake = {"x": tr.netG(z, code_vector(cat, cont, 10)), "cat": cat, "cont": cont}
        tr.netQ.zero_grad()
        grads[name] = _g_grads(tr, fake)
        if name == "none":
            assert tr.netQ.net[0].weight.grad.abs().sum() > 0      # Q is still fitted
    assert torch.allclose(grads["none"], grads["zero"], atol=1e-7)
    assert not torch.allclose(grads["info"], grads["zero"], atol=1e-5)


def test_sampling_and_reading_codes_back():
    tr = _trainer()
    x = tr.sample(12, labels=torch.arange(12) % 3, seed=4)
    assert x.shape == (12, 1, 28, 28)
    assert torch.equal(x, tr.sample(12, labels=torch.arange(12) % 3, seed=4))
    assert tr.netG.training                                          # render restores the mode
    out = predict_codes(tr.netD, tr.netQ, x)
    assert out["cat"].shape == (12,) and out["probs"].shape == (12, 10) and out["cont"].shape == (12, 2)
    assert torch.allclose(out["probs"].sum(1), torch.ones(12))


def test_trainer_refuses_mismatched_parts():
    G, D = InfoGenerator(z_dim=8, ngf=8, fc=32), InfoDiscriminator(ndf=8, fc=32)
    x = torch.zeros(32, 1, 28, 28)
    cfg = TrainConfig(steps=1, batch_size=8, z_dim=8, progress=False)
    with pytest.raises(ValueError, match="netQ reads 5 categories"):
        InfoGANTrainer(G, D, QHead(32, 5, 2), x, cfg, device="cpu")
    with pytest.raises(ValueError, match="config.z_dim"):
        InfoGANTrainer(G, D, QHead(32), x, TrainConfig(z_dim=9, progress=False), device="cpu")
    with pytest.raises(ValueError, match="q_role"):
        InfoGANTrainer(G, D, QHead(32), x, cfg, q_role="Q", device="cpu")
    with pytest.raises(ValueError, match="unsupervised"):
        InfoGANTrainer(G, D, QHead(32), x, cfg, num_classes=10, device="cpu")
    with pytest.raises(ValueError, match=">= 0"):
        InfoGANTrainer(G, D, QHead(32), x, cfg, lambda_cat=-1.0, device="cpu")
    with pytest.raises(TypeError, match="InfoGenerator"):
        InfoGANTrainer(torch.nn.Linear(2, 2), D, QHead(32), x, cfg, device="cpu")


def test_runs_in_worker_processes_match_runs_in_this_one():
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    setup = InfoGANSetup(steps=3, batch_size=16, z_dim=4, ngf=4, ndf=4, fc=16, q_hidden=8, log_every=1)
    here = train_runs(images, setup, [(0, True), (1, False)], workers=1)
    there = train_runs(images, setup, [(0, True), (1, False)], workers=2)
    for a, b in zip(here, there):
        assert a.info_in_g == b.info_in_g and a.config.seed == b.config.seed and b.step == 3
        for name in ("netG", "netD", "netQ"):
            for p, q in zip(a.networks[name].state_dict().values(), b.networks[name].state_dict().values()):
                assert torch.equal(p, q), name
        assert a.history["info_cat"] == b.history["info_cat"]
        assert torch.equal(a.sample(4, seed=0), b.sample(4, seed=0))
    assert not torch.equal(here[0].netG.fc[0].weight, here[1].netG.fc[0].weight)   # seeds differ
    with pytest.raises(ValueError, match="at least one"):
        train_runs(images, setup, [])


# ----------------------------------------------------------------------------- measurements
def test_hungarian_accuracy_on_a_constructed_case():
    # code 0: 50 × digit 0; code 1: 30 × digit 0 and 20 × digit 1.
    # Majority labels give both codes digit 0 (purity 0.8); one-to-one: 0→0, 1→1 (0.7).
    codes = np.array([0] * 50 + [1] * 50)
    labels = np.array([0] * 50 + [0] * 30 + [1] * 20)
    assert confusion_matrix(codes, labels).tolist() == [[50, 0], [30, 20]]
    assert code_purity(codes, labels) == pytest.approx(0.8)
    assert code_accuracy(codes, labels) == pytest.approx(0.7)
    acc, mapping = code_assignment(confusion_matrix(codes, labels))
    assert acc == pytest.approx(0.7) and mapping.tolist() == [0, 1]


def test_hungarian_accuracy_ignores_the_names_of_the_codes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 1000)
    perm = rng.permutation(10)
    assert code_accuracy(perm[labels], labels) == 1.0
    noisy = perm[labels].copy()
    noisy[:100] = (noisy[:100] + 1) % 10                            # 100 wrong codes (at most)
    assert code_accuracy(noisy, labels) == pytest.approx(0.9)
    # independent codes: close to chance (the best matching of a near-uniform table)
    assert code_accuracy(rng.integers(0, 10, 5000), rng.integers(0, 10, 5000)) < 0.15
    # more codes than classes: leftover codes map to -1 and count as wrong
    acc, mapping = code_assignment([[5, 0], [0, 5], [3, 2]])
    assert acc == pytest.approx(10 / 15) and mapping.tolist() == [0, 1, -1]


def test_measurement_errors():
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="non-negative integers"):
        confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], n_codes=2)
    with pytest.raises(ValueError, match="positive sum"):
        code_assignment(np.zeros((2, 2)))


def _bar(shear: float = 0.0, half_width: int = 1) -> torch.Tensor:
    """A vertical bar (rows 4..23) in a 28 px frame, its top shifted right by shear·height."""
    img = -torch.ones(28, 28)
    for row in range(4, 24):
        centre = 14 + round(shear * (14 - row))                          # top (small row) to the right
        img[row, centre - half_width:centre + half_width + 1] = 1.0
    return img


def test_image_moments_measure_slant_width_and_ink():
    m = image_moments(torch.stack([_bar(), _bar(0.4), _bar(-0.4), _bar(0.0, 3)]).unsqueeze(1))
    assert abs(m["slant"][0]) < 1e-9
    assert m["slant"][1] == pytest.approx(0.4, abs=0.05) and m["slant"][2] == pytest.approx(-0.4, abs=0.05)
    assert m["width"][3] > 2 * m["width"][0] and m["ink"][3] > 2 * m["ink"][0]
    assert m["height"][0] == pytest.approx(np.sqrt((20 ** 2 - 1) / 12), rel=1e-6)   # 20 rows, uniform
    blank = image_moments(-torch.ones(1, 28, 28))
    assert np.isnan(blank["slant"][0]) and blank["ink"][0] == 0
    with pytest.raises(ValueError, match="one channel"):
        image_moments(torch.zeros(2, 3, 28, 28))


def test_traversal_correlation_is_within_rows():
    grid = np.linspace(-1, 1, 5)
    rows = np.stack([grid * 2 + 10, grid * 2 - 3, grid * 2 + 100])      # offsets differ per row
    assert traversal_correlation(rows, grid) == pytest.approx(1.0)
    assert np.corrcoef(rows.ravel(), np.tile(grid, 3))[0, 1] < 0.1      # pooled naively: ~0
    mixed = np.stack([grid * 2, grid * 0.5, -grid * 0.5])               # slopes differ
    assert 0 < traversal_correlation(mixed, grid) < 1
    assert traversal_correlation(-rows, grid) == pytest.approx(-1.0)
    flat = np.tile([1.0, 2.0, 3.0, 2.0, 1.0], (3, 1))                   # no linear trend
    assert traversal_correlation(flat, grid) == pytest.approx(0.0, abs=1e-12)
    with_nan = np.vstack([rows, [np.nan] * 5])
    assert traversal_correlation(with_nan, grid) == pytest.approx(1.0)
    assert np.isnan(traversal_correlation(np.ones((2, 5)), grid))
    with pytest.raises(ValueError, match="T = len"):
        traversal_correlation(rows, grid[:3])
