"""The one loop carries lessons 14-23 without a loop of their own: a CycleGAN-like trainer
(two domains, four networks) and a pix2pix-like trainer (image-conditioned G, paired data) train
through ``GANTrainer``'s hooks and resume bit-exactly from a checkpoint."""

import pytest
import torch
import torch.nn.functional as F

from gancourse import losses
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import GANTrainer, Paired, TrainConfig, Unpaired


def mlp_g(seed: int) -> torch.nn.Module:
    """A map R² -> R² (a 'translator' or an image-to-image G on 2-D toy 'images')."""
    torch.manual_seed(seed)
    return MLPGenerator(2, 2, hidden=(32,), out_activation=None)


def mlp_d(seed: int, dim: int = 2) -> torch.nn.Module:
    torch.manual_seed(seed)
    return MLPDiscriminator(dim, hidden=(32,))


# ----------------------------------------------------------------------------- CycleGAN-like
class ToyCycle(GANTrainer):
    """G_AB = netG, D_B = netD, plus G_BA (G's optimiser) and D_A (D's optimiser):
    least-squares adversarial terms both ways and the cycle loss λ (|G_BA(G_AB(a)) - a| + ...)."""

    def __init__(self, nets, data, config, **kw):
        g_ab, g_ba, d_a, d_b = nets
        super().__init__(g_ab, d_b, data, config, **kw)
        self.add_network("netG_BA", g_ba, role="G")
        self.add_network("netD_A", d_a, role="D", lr=config.lr_d / 2)     # its own parameter group
        # on this 2-D toy, λ = 10 lets the cycle term win over the adversarial one (both maps
        # stay near the identity); λ = 1 translates
        self.cycle_weight = 1.0

    def generate(self, batch):
        return {"AB": self.G(batch["A"]), "BA": self.compiled["netG_BA"](batch["B"])}

    def discriminator_loss(self, batch, fake):
        d_a = self.compiled["netD_A"]
        r_b, f_b = self.D(batch["B"]), self.D(fake["AB"])
        r_a, f_a = d_a(batch["A"]), d_a(fake["BA"])
        loss = losses.d_loss_lsgan(r_b, f_b) + losses.d_loss_lsgan(r_a, f_a)
        return loss, torch.cat([r_a, r_b]), torch.cat([f_a, f_b])

    def generator_loss(self, batch, fake):
        g_ba, d_a = self.compiled["netG_BA"], self.compiled["netD_A"]
        adv = losses.g_loss_lsgan(self.D(fake["AB"])) + losses.g_loss_lsgan(d_a(fake["BA"]))
        cycle = (F.l1_loss(g_ba(fake["AB"]), batch["A"]) + F.l1_loss(self.G(fake["BA"]), batch["B"]))
        self._log(cycle=cycle)
        return adv + self.cycle_weight * cycle


def cycle_data():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(256, 2, generator=g) * 0.3 + torch.tensor([-2.0, 0.0])
    b = torch.randn(200, 2, generator=g) * 0.3 + torch.tensor([2.0, 1.0])
    return Unpaired(A=a, B=b), a, b


def cycle_trainer(steps, **kw):
    config = TrainConfig(steps=steps, batch_size=32, z_dim=2, loss="lsgan", lr_g=2e-3, lr_d=2e-3,
                         progress=False, sample_every=10**6, **kw.pop("cfg", {}))
    data, _, _ = cycle_data()
    return ToyCycle((mlp_g(1), mlp_g(2), mlp_d(3), mlp_d(4)), data, config, device="cpu", **kw)


def test_cycle_toy_trains_four_networks_through_the_one_loop():
    trainer = cycle_trainer(300)
    assert set(trainer.networks) == {"netG", "netD", "netG_BA", "netD_A"}
    assert [g["network"] for g in trainer.optG.param_groups] == ["netG", "netG_BA"]
    assert [g["lr"] for g in trainer.optD.param_groups] == [2e-3, 1e-3]
    _, a, b = cycle_data()
    history = trainer.fit()
    with torch.no_grad():
        ab, ba = trainer.netG(a), trainer.networks["netG_BA"](b)
    # each direction lands near the other domain's mean, and the cycle closes
    assert (ab.mean(0) - b.mean(0)).norm() < 0.5 < (a.mean(0) - b.mean(0)).norm()
    assert (ba.mean(0) - a.mean(0)).norm() < 0.5
    assert history["cycle"][-1] < 0.5 * history["cycle"][0]


def _crash_at(step):
    class Crash(RuntimeError):
        pass

    def cb(trainer, event):
        if event == "log" and trainer.step == step:
            raise Crash

    return Crash, cb


def test_cycle_toy_resumes_bit_exactly(tmp_path):
    straight = cycle_trainer(8)
    straight.fit()
    path = tmp_path / "cycle.pt"
    crash, cb = _crash_at(5)
    crashed = cycle_trainer(8, cfg={"checkpoint_every": 1}, checkpoint=path, callbacks=[cb])
    with pytest.raises(crash):
        crashed.fit()
    resumed = cycle_trainer(8, checkpoint=path)
    resumed.fit()
    assert resumed.step == 8
    for name in straight.networks:
        for p, q in zip(straight.networks[name].state_dict().values(),
                        resumed.networks[name].state_dict().values()):
            assert torch.equal(p, q), name
    state = torch.load(path, weights_only=True)
    assert set(state["networks"]) == {"netG", "netD", "netG_BA", "netD_A"}
    assert len(state["optimizers"]["G"]["param_groups"]) == 2


# ----------------------------------------------------------------------------- pix2pix-like
class ToyPix2Pix(GANTrainer):
    """G(input) -> output; D judges (input, output) pairs; L_G = adversarial + λ L1."""

    l1_weight = 20.0

    def generator_inputs(self, batch):
        return (batch["input"],)

    def discriminator_loss(self, batch, fake):
        real_pair = torch.cat([batch["input"], batch["target"]], dim=1)       # (B, 4)
        fake_pair = torch.cat([batch["input"], fake], dim=1)
        r, f = self.D(real_pair), self.D(fake_pair)
        return self.loss.d_loss(r, f), r, f

    def generator_loss(self, batch, fake):
        adv = self.loss.g_loss(self.D(torch.cat([batch["input"], fake], dim=1)))
        l1 = F.l1_loss(fake, batch["target"])
        self._log(l1=l1)
        return adv + self.l1_weight * l1

    def snapshot_samples(self):
        with torch.no_grad():
            return self.netG(self.fixed_input).cpu()


def pix2pix_trainer(steps, **kw):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=g) * 2 - 1
    y = torch.stack([x[:, 1], -x[:, 0]], dim=1) * 1.5                      # a rotation and a scale
    config = TrainConfig(steps=steps, batch_size=32, z_dim=2, lr_g=2e-3, lr_d=1e-3, progress=False,
                         sample_every=4, **kw.pop("cfg", {}))
    trainer = ToyPix2Pix(mlp_g(5), mlp_d(6, dim=4), Paired(input=x, target=y), config, device="cpu", **kw)
    trainer.fixed_input = x[:8]
    return trainer, x, y


def test_pix2pix_toy_translates_paired_inputs():
    trainer, x, y = pix2pix_trainer(400)
    history = trainer.fit()
    with torch.no_grad():
        err = (trainer.netG(x) - y).abs().mean().item()
    assert err < 0.15 < (x - y).abs().mean().item()
    assert history["l1"][-1] < 0.3 * history["l1"][0]
    step, sample = trainer.snapshots[-1]
    assert step == 400 and sample.shape == (8, 2)                           # translations of fixed inputs


def test_pix2pix_toy_resumes_bit_exactly(tmp_path):
    straight, _, _ = pix2pix_trainer(8)
    straight.fit()
    path = tmp_path / "p2p.pt"
    crash, cb = _crash_at(3)
    crashed, _, _ = pix2pix_trainer(8, cfg={"checkpoint_every": 1}, checkpoint=path, callbacks=[cb])
    with pytest.raises(crash):
        crashed.fit()
    resumed, _, _ = pix2pix_trainer(8, checkpoint=path)
    resumed.fit()
    for p, q in zip(straight.netG.parameters(), resumed.netG.parameters()):
        assert torch.equal(p, q)
    assert straight.history["l1"] == resumed.history["l1"]
    assert [s for s, _ in straight.snapshots] == [s for s, _ in resumed.snapshots]
