import pytest
import torch
from torch import nn

from gancourse.analysis.discriminator_sampling import ascend, sample_by_ascent, train_on_own_negatives
from gancourse.models import MLPDiscriminator


class LinearD(nn.Module):
    """D(x) = w · x + b: its maximum over the box [-1, 1]^d is at x = sign(w)."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(0.5))

    def forward(self, x):
        return x.flatten(1) @ self.w + self.b


class QuadraticD(nn.Module):
    """D(x) = -‖x - c‖²: maximum at c inside the box, at clip(c, -1, 1) over the box."""

    def __init__(self, c):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return -(x - self.c).pow(2).sum(1)


def test_linear_discriminator_ascends_to_the_sign_corner():
    w = [1.0, -2.0, 0.5, -1.0]
    res = ascend(LinearD(w), torch.zeros(3, 4), steps=40, step_size=0.5)
    assert torch.equal(res.x, torch.sign(torch.tensor(w)).expand(3, 4))
    assert res.scores.shape == (41, 3) and res.grad_evals == 40
    assert torch.allclose(res.scores[-1], torch.full((3,), 4.5 + 0.5))     # Σ|w| + b
    assert (res.scores.diff(dim=0) >= -1e-6).all()                         # never goes down


def test_normalized_steps_move_exactly_step_size():
    res = ascend(LinearD([3.0, 4.0]), torch.zeros(1, 2), steps=1, step_size=0.5)
    assert torch.allclose(res.x, torch.tensor([[0.3, 0.4]]))               # 0.5 · w / ‖w‖


@pytest.mark.parametrize("c,argmax", [([0.3, -0.5], [0.3, -0.5]), ([2.0, -0.5], [1.0, -0.5])])
def test_quadratic_discriminator_finds_the_projected_maximum(c, argmax):
    # plain gradient ascent with step 1/4 on -‖x - c‖²: x <- x - (x - c)/2, geometric convergence
    x0 = torch.tensor([[-1.0, 1.0], [0.9, 0.0]])
    res = ascend(QuadraticD(c), x0, steps=60, step_size=0.25, normalize=False)
    assert torch.allclose(res.x, torch.tensor(argmax).expand(2, 2), atol=1e-5)


def test_ascent_leaves_d_untouched_and_uses_eval_mode():
    netD = MLPDiscriminator(4, hidden=(8,), dropout=0.5)
    netD.train()
    x0 = torch.rand(5, 4) * 2 - 1
    a = ascend(netD, x0, steps=5, step_size=0.1)
    b = ascend(netD, x0, steps=5, step_size=0.1)
    assert torch.equal(a.x, b.x)                         # no dropout noise: eval mode inside
    assert netD.training                                  # mode restored
    assert all(p.grad is None for p in netD.parameters())
    assert a.x.abs().max() <= 1
    assert torch.equal(ascend(netD, x0, steps=0).x, x0)  # zero steps: the start itself


def test_sample_by_ascent_starts_from_seeded_uniform_noise():
    netD = MLPDiscriminator((1, 4, 4), hidden=(8,))
    start = sample_by_ascent(netD, 500, (1, 4, 4), steps=0, seed=3).x
    assert start.shape == (500, 1, 4, 4) and start.abs().max() <= 1
    assert abs(start.mean().item()) < 0.05
    assert start.var().item() == pytest.approx(1 / 3, rel=0.05)                 # Var U[-1, 1]
    again = sample_by_ascent(netD, 500, (1, 4, 4), steps=3, seed=3)
    assert torch.equal(again.x, sample_by_ascent(netD, 500, (1, 4, 4), steps=3, seed=3).x)
    assert (again.scores[-1] >= again.scores[0]).float().mean() > 0.9


def test_bad_inputs_are_clear_errors():
    netD = LinearD([1.0, 1.0])
    with pytest.raises(ValueError, match=r"box \[-1, 1\]"):
        ascend(netD, torch.full((1, 2), 1.5))
    with pytest.raises(ValueError, match="steps >= 0 and step_size > 0"):
        ascend(netD, torch.zeros(1, 2), steps=-1)
    with pytest.raises(ValueError, match="steps >= 0 and step_size > 0"):
        ascend(netD, torch.zeros(1, 2), step_size=0.0)
    with pytest.raises(ValueError, match="non-empty batch"):
        ascend(netD, torch.zeros(0, 2))
    with pytest.raises(ValueError, match="n must be >= 1"):
        sample_by_ascent(netD, 0, (2,))
    real = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="rounds"):
        train_on_own_negatives(MLPDiscriminator(2), real, rounds=0, batch_size=4)
    with pytest.raises(ValueError, match="exceeds the 10 real examples"):
        train_on_own_negatives(MLPDiscriminator(2), real, batch_size=32)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_on_own_negatives(MLPDiscriminator(2), real + 3, batch_size=4)


def test_training_on_own_negatives_moves_the_argmax_towards_the_data():
    """Real data: a tight cluster at c = (0.5, -0.5) in 2D. A D trained on real vs noise only
    puts its argmax far from c (on the box's edge); rounds on its own negatives pull it in."""
    torch.manual_seed(0)
    c = torch.tensor([0.5, -0.5])
    real = (c + 0.05 * torch.randn(512, 2, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    netD = MLPDiscriminator(2, hidden=(32, 32))
    out = train_on_own_negatives(netD, real, rounds=5, d_steps=150, n_negatives=128,
                                 ascent_steps=40, step_size=0.1, batch_size=64, lr=2e-3,
                                 progress=False)
    assert len(out.negatives) == 5 and all(n.shape == (128, 2) for n in out.negatives)
    assert set(out.history) == {"round", "D_negatives", "loss_D", "D_real", "D_fake"}
    assert out.history["round"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all(n.abs().max() <= 1 for n in out.negatives)
    noise = out.negatives[0]
    assert abs(noise.mean().item()) < 0.1 and noise.var().item() == pytest.approx(1 / 3, rel=0.15)
    assert out.history["D_real"][-1] > 0.5 > out.history["D_fake"][-1]
    assert not netD.training

    def mean_dist(x):
        return (x - c).norm(dim=1).mean().item()

    final = sample_by_ascent(netD, 128, (2,), steps=40, step_size=0.1, seed=9).x
    assert mean_dist(final) < 0.5 * mean_dist(out.negatives[1])
    assert mean_dist(final) < 0.2
