"""The course map (DESIGN §2): fixed numbers, file stems and one-line contents.

Numbers never change, so issues, baselines and cross-references stay stable. A lesson
that is not written yet is listed but not linked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gancourse import runtime


@dataclass(frozen=True)
class Lesson:
    number: int
    stem: str
    title: str
    content: str

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"


COURSE: tuple[Lesson, ...] = tuple(Lesson(n, s, t, c) for n, s, t, c in [
    (0, "00_orientation", "Orientation", "how to run, profiles and devices, the course map, exercises"),
    (1, "01_divergences_js_vs_em", "JS divergence vs Earth Mover's distance",
     "KL, JS, TV and EM on toys; parallel lines; transport plans; why JS fails for disjoint supports"),
    (2, "02_first_gan", "The first GAN",
     "G and D, the minimax game, alternating updates, saturating vs non-saturating loss"),
    (3, "03_gan_theory", "GAN theory", "MLE = min KL, the optimal D*, max_D V = -2 log 2 + 2 JS"),
    (4, "04_dcgan", "DCGAN", "architecture rules, initialisation, latent interpolation and arithmetic"),
    (5, "05_conditional_gan", "Conditional GAN", "label conditioning, mismatched pairs, projection D"),
    (6, "06_f_gan", "f-GAN", "f-divergences, Fenchel conjugates, mode covering vs mode seeking"),
    (7, "07_lsgan", "LSGAN", "sigmoid saturation vs least squares; the Pearson chi2 link"),
    (8, "08_wgan", "WGAN", "Kantorovich-Rubinstein duality, critic, weight clipping, RMSProp"),
    (9, "09_wgan_gp_dragan", "WGAN-GP and DRAGAN", "gradient penalty, clipping pathologies, DRAGAN"),
    (10, "10_spectral_norm", "Spectral normalisation", "Lipschitz constants, power iteration, SNGAN"),
    (11, "11_ebgan_began", "EBGAN and BEGAN", "autoencoder discriminators, margin loss, BEGAN equilibrium"),
    (12, "12_mode_collapse", "Mode collapse", "ring-8 / grid-25 protocol and the cures"),
    (13, "13_evaluating_gans", "Evaluating GANs",
     "Parzen windows, Inception-style score, Frechet distance, precision/recall, memorisation"),
    (14, "14_infogan", "InfoGAN", "latent codes and the mutual-information term"),
    (15, "15_vae_gan", "VAE-GAN", "learned similarity, three-way discriminator"),
    (16, "16_bigan_ali", "BiGAN / ALI", "encoder + decoder + joint discriminator"),
    (17, "17_gan_inversion_editing", "GAN inversion and editing",
     "back to z, attribute vectors, image completion"),
    (18, "18_pix2pix", "pix2pix", "U-Net generator, PatchGAN, L1 + adversarial"),
    (19, "19_cyclegan", "CycleGAN", "unpaired translation, cycle and identity losses, image buffer"),
    (20, "20_stargan", "StarGAN", "one generator for many domains"),
    (21, "21_common_space", "Common latent space", "coupled encoders/decoders, domain-adversarial training"),
    (22, "22_progan", "ProGAN", "progressive growing, fade-in, pixel norm, minibatch stddev"),
    (23, "23_srgan_esrgan", "SRGAN / ESRGAN", "SRResNet, content loss, RRDB, relativistic average GAN"),
])


def lesson(key: int | str) -> Lesson:
    """A lesson by number (``4``, ``"04"``) or stem (``"04_dcgan"``)."""
    for item in COURSE:
        if key in (item.number, item.stem, f"{item.number:02d}"):
            return item
    raise KeyError(f"no lesson {key!r}; lessons are numbered 0-{len(COURSE) - 1}")


def available(notebooks: Path | None = None) -> list[Lesson]:
    """Lessons whose notebook exists in ``notebooks`` (default: the checkout's)."""
    folder = notebooks or runtime.notebooks_dir()
    return [item for item in COURSE if (folder / item.filename).exists()]


def course_map_markdown(notebooks: Path | None = None, link_prefix: str = "") -> str:
    """The course map as a Markdown table, linking the notebooks that exist."""
    present = {item.stem for item in available(notebooks)}
    rows = ["| # | lesson | what you learn |", "|---|---|---|"]
    for item in COURSE:
        title = (f"[{item.title}]({link_prefix}{item.filename})" if item.stem in present
                 else f"{item.title} *(coming)*")
        rows.append(f"| {item.number:02d} | {title} | {item.content} |")
    return "\n".join(rows)
