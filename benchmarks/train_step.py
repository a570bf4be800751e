"""Overhead of ``gancourse.training`` against a hand-written loop (DESIGN §7).

Both loops train the same DCGAN (same architecture, initial weights, Adam settings,
batch size and data tensor) with the non-saturating loss, one discriminator step per
generator step. They alternate in rounds inside one process so that machine noise hits
both alike; the reported figure is the ratio of the median seconds per step.

    python benchmarks/train_step.py                 # 28 px digits, batch 64, CPU
    python benchmarks/train_step.py --image-size 64 --batch-size 128 --device cuda

Target: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from gancourse import data, resolve_device, seed_everything
from gancourse.models import DCGANDiscriminator, DCGANGenerator
from gancourse.training import GANTrainer, TrainConfig


def hand_written_loop(netG, netD, images, steps, batch_size, z_dim, device, optG, optD, state):
    """The textbook loop (PyTorch DCGAN tutorial style), nothing else."""
    for _ in range(steps):
        if state["pos"] + batch_size > len(state["perm"]):
            state["perm"], state["pos"] = torch.randperm(len(images)), 0
        real = images[state["perm"][state["pos"]:state["pos"] + batch_size]].to(device)
        state["pos"] += batch_size
        z = torch.randn(batch_size, z_dim, device=device)
        with torch.no_grad():
            fake = netG(z)
        loss_D = F.softplus(-netD(real)).mean() + F.softplus(netD(fake)).mean()
        optD.zero_grad(set_to_none=True)
        loss_D.backward()
        optD.step()
        z = torch.randn(batch_size, z_dim, device=device)
        loss_G = F.softplus(-netD(netG(z))).mean()
        optG.zero_grad(set_to_none=True)
        loss_G.backward()
        optG.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-size", type=int, default=28, choices=data.IMAGE_SIZES)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=32, help="width of G and D (ngf = ndf)")
    p.add_argument("--steps", type=int, default=20, help="steps per round (each package round ends with one "
                   "fixed-noise snapshot, as fit() does)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    seed_everything(0)
    ds = data.load("digits", image_size=args.image_size, offline=True)
    z_dim = 100
    netG0 = DCGANGenerator(z_dim, ds.channels, args.image_size, args.ngf)
    netD0 = DCGANDiscriminator(ds.channels, args.image_size, args.ngf)

    # the package's loop (default settings: history every step, gradient norms, progress off)
    cfg = TrainConfig(steps=1, batch_size=args.batch_size, z_dim=z_dim, loss="ns",
                      sample_every=10**9, progress=False, amp=False, channels_last=False)
    trainer = GANTrainer(copy.deepcopy(netG0), copy.deepcopy(netD0), ds, cfg, device=device)
    # the hand-written loop, same models and optimisers
    netG, netD = copy.deepcopy(netG0).to(device), copy.deepcopy(netD0).to(device)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    state = {"perm": torch.empty(0, dtype=torch.long), "pos": 0}

    def run_trainer(n):
        trainer.config.steps = trainer.step + n
        trainer.fit(resume=False)

    def run_hand(n):
        hand_written_loop(netG, netD, ds.images, n, args.batch_size, z_dim, device, optG, optD, state)

    run_trainer(3)                                   # warm-up (allocator, first snapshot)
    run_hand(3)
    t_pkg, t_hand = [], []
    for r in range(args.rounds):
        order = (run_trainer, run_hand) if r % 2 == 0 else (run_hand, run_trainer)
        for fn in order:
            t0 = time.perf_counter()
            fn(args.steps)
            dt = (time.perf_counter() - t0) / args.steps
            (t_pkg if fn is run_trainer else t_hand).append(dt)
    pkg, hand = statistics.median(t_pkg), statistics.median(t_hand)
    ratio = pkg / hand
    print(f"device={device} image_size={args.image_size} batch={args.batch_size} ngf={args.ngf} "
          f"threads={torch.get_num_threads()} rounds={args.rounds}x{args.steps} steps")
    print(f"gancourse.training : {pkg * 1000:8.2f} ms/step (median)")
    print(f"hand-written loop  : {hand * 1000:8.2f} ms/step (median)")
    print(f"ratio              : {ratio:.3f}  (target <= 1.05)")
    return ratio


if __name__ == "__main__":
    main()
