"""Speed of a DCGAN step through ``gancourse.training`` against the loops people write.

Three loops train the same DCGAN (same architecture, initial weights, Adam settings, batch
size and data tensor) with the non-saturating loss, one discriminator step per generator step:

* ``gancourse``: :class:`gancourse.training.GANTrainer` with its default settings (history of
  every step, gradient norms, a fixed-noise snapshot at the end of each round as ``fit`` does);
* ``pytorch/examples``: the loop of the PyTorch DCGAN example (github.com/pytorch/examples,
  ``dcgan/main.py``): D's loss on the real batch and on ``fake.detach()`` back-propagated
  separately, one ``G(z)`` per iteration whose ``fake`` also feeds G's step, and the
  ``.item()`` statistics it prints;
* ``Algorithm 1``: the textbook loop of Goodfellow et al. (2014) that draws fresh noise for G's
  step (two generator forwards per iteration), the comparison this script made before.

The loops alternate in rounds inside one process so that machine noise hits them alike; the
figure reported is the ratio of median seconds per step, gancourse / loop (target <= 1.00).

    python benchmarks/train_step.py                       # 28 px and 64 px (ngf 64, RGB), CPU
    python benchmarks/train_step.py --sizes 28 --rounds 9
    python benchmarks/train_step.py --threads 1 --clock cpu  # on a shared machine
    python benchmarks/train_step.py --device cuda --amp   # also bf16 + channels_last (+ --compile)

With ``--amp`` (meant for CUDA) the script also times the trainer with bf16 autocast and
``channels_last`` (and ``torch.compile`` with ``--compile``) against the same trainer in fp32
eager mode at every size and prints the speed-up.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from gancourse import data, resolve_device, seed_everything
from gancourse.models import DCGANDiscriminator, DCGANGenerator
from gancourse.training import GANTrainer, TrainConfig

Z_DIM = 100


class Batches:
    """The same shuffled slicing every loop uses (a DataLoader over an in-memory tensor)."""

    def __init__(self, images: torch.Tensor, batch_size: int, device: torch.device):
        self.images, self.batch_size, self.device = images, batch_size, device
        self.perm, self.pos = torch.empty(0, dtype=torch.long), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > len(self.perm):
            self.perm, self.pos = torch.randperm(len(self.images)), 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.images[idx].to(self.device, non_blocking=True)


def pytorch_examples_loop(netG, netD, batches: Batches, optG, optD, steps: int, device) -> None:
    """pytorch/examples dcgan/main.py, with D returning logits (BCE-with-logits in place of
    Sigmoid + BCELoss, which the package's D also uses)."""
    criterion = torch.nn.BCEWithLogitsLoss()
    for _ in range(steps):
        # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real = batches.next()
        b = real.size(0)
        label = torch.full((b,), 1.0, device=device)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = torch.sigmoid(output).mean().item()
        noise = torch.randn(b, Z_DIM, device=device)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = torch.sigmoid(output).mean().item()
        errD = errD_real + errD_fake
        optD.step()
        # (2) update G: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = torch.sigmoid(output).mean().item()
        optG.step()
        _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)      # what the example prints
    if device.type == "cuda":
        torch.cuda.synchronize()


def algorithm1_loop(netG, netD, batches: Batches, optG, optD, steps: int, device) -> None:
    """Goodfellow et al.'s Algorithm 1: D on fresh fakes, then G on a fresh z (two G forwards)."""
    for _ in range(steps):
        real = batches.next()
        z = torch.randn(real.shape[0], Z_DIM, device=device)
        with torch.no_grad():
            fake = netG(z)
        loss_D = F.softplus(-netD(real)).mean() + F.softplus(netD(fake)).mean()
        optD.zero_grad(set_to_none=True)
        loss_D.backward()
        optD.step()
        z = torch.randn(real.shape[0], Z_DIM, device=device)
        loss_G = F.softplus(-netD(netG(z))).mean()
        optG.zero_grad(set_to_none=True)
        loss_G.backward()
        optG.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def _trainer(netG, netD, ds, batch_size, device, **fast) -> GANTrainer:
    cfg = TrainConfig(steps=1, batch_size=batch_size, z_dim=Z_DIM, loss="ns", sample_every=10**9,
                      progress=False, amp=fast.get("amp", False),
                      channels_last=fast.get("channels_last", False), compile=fast.get("compile", False))
    return GANTrainer(copy.deepcopy(netG), copy.deepcopy(netD), ds, cfg, device=device)


def _run_trainer(trainer: GANTrainer) -> Callable[[int], None]:
    def run(n: int) -> None:
        trainer.config.steps = trainer.step + n
        trainer.fit(resume=False)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
    return run


def _run_loop(loop, netG0, netD0, ds, batch_size, device) -> Callable[[int], None]:
    netG, netD = copy.deepcopy(netG0).to(device), copy.deepcopy(netD0).to(device)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batches = Batches(ds.images, batch_size, device)
    return lambda n: loop(netG, netD, batches, optG, optD, n, device)


def time_rounds(runs: dict[str, Callable[[int], None]], steps: int, rounds: int,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per step of each run, the runs taking turns (order rotated each round)."""
    for run in runs.values():                         # warm-up: allocator, first snapshot, compile
        run(2)
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = clock()
            runs[name](steps)
            times[name].append((clock() - t0) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_size(size: int, args, device) -> dict[str, float]:
    seed_everything(0)
    channels = 1 if size == 28 else 3
    name = "mnist" if channels == 1 else "cifar10"
    ds = data.load(name, image_size=size, offline=True)
    ngf = args.ngf if args.ngf else (32 if size == 28 else 64)
    netG0 = DCGANGenerator(Z_DIM, channels, size, ngf)
    netD0 = DCGANDiscriminator(channels, size, ngf)
    runs = {
        "gancourse": _run_trainer(_trainer(netG0, netD0, ds, args.batch_size, device)),
        "pytorch/examples": _run_loop(pytorch_examples_loop, netG0, netD0, ds, args.batch_size, device),
        "Algorithm 1": _run_loop(algorithm1_loop, netG0, netD0, ds, args.batch_size, device),
    }
    if args.amp:
        fast = {"amp": True, "channels_last": True, "compile": args.compile}
        runs["gancourse bf16"] = _run_trainer(_trainer(netG0, netD0, ds, args.batch_size, device, **fast))
    steps = args.steps or (20 if size <= 32 else 5)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    med = time_rounds(runs, steps, args.rounds, clock)
    print(f"\n{size} px, {channels} channel(s) ({ds.name}), ngf = ndf = {ngf}, batch {args.batch_size}, "
          f"device {device}, threads {torch.get_num_threads()}, {args.rounds} rounds x {steps} steps, "
          f"{args.clock} clock")
    for k, v in med.items():
        print(f"  {k:18}: {v * 1000:9.2f} ms/step (median)")
    out = {"pytorch/examples": med["gancourse"] / med["pytorch/examples"],
           "Algorithm 1": med["gancourse"] / med["Algorithm 1"]}
    print(f"  ratio gancourse / pytorch/examples loop: {out['pytorch/examples']:.3f}  (target <= 1.00)")
    print(f"  ratio gancourse / Algorithm 1 loop     : {out['Algorithm 1']:.3f}")
    if args.amp:
        out["bf16 speed-up"] = med["gancourse"] / med["gancourse bf16"]
        print(f"  speed-up of bf16 + channels_last{' + compile' if args.compile else ''} over fp32 eager: "
              f"{out['bf16 speed-up']:.2f}x")
    return out


def main(argv=None) -> dict[int, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[28, 64], choices=data.IMAGE_SIZES)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=0, help="width of G and D (0: 32 at 28 px, 64 otherwise)")
    p.add_argument("--steps", type=int, default=0, help="steps per round (0: 20 at <= 32 px, 5 at 64 px)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: elapsed time; cpu: this thread's CPU time (steadier when other processes "
                        "share the machine; use with --threads 1 on CPU)")
    p.add_argument("--amp", action="store_true", help="also time bf16 autocast + channels_last")
    p.add_argument("--compile", action="store_true", help="with --amp: also torch.compile")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.clock == "cpu" and (device.type != "cpu" or torch.get_num_threads() != 1):
        p.error("--clock cpu measures one thread on the CPU: use it with --device cpu --threads 1")
    return {size: bench_size(size, args, device) for size in args.sizes}


if __name__ == "__main__":
    main()
