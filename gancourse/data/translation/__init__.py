"""Image-to-image translation data: paired sets (pix2pix) and unpaired domains (CycleGAN).

Offline tasks, built from real images that ship with the course or its dependencies:

* :func:`edges2digits` — Canny edge maps of real MNIST digits (``skimage.feature.canny``)
  paired with the digits themselves, with the digit labels kept for the judge;
* :func:`segments2photos` — superpixel maps (SLIC regions in their mean colour, like the label
  maps of facades) of colour patches of the scikit-image photographs paired with the patches,
  and :func:`edges2photos` — their edge maps; training photos and held-out photos (never
  trained on) as :mod:`gancourse.data.photos` splits them;
* :func:`digit_domains` — two *unpaired* handwriting domains in the same 28 px frame: real
  MNIST (A) and the scikit-learn 8×8 digits upsampled into it (B); :func:`rescan_8x8` renders
  digits the way B was scanned (a hand-made, shape-keeping A → B translation for reference).

Official datasets, downloaded from the authors' server when allowed (:func:`load_official`):

* pix2pix ``facades`` (label map → photo, 400 training pairs) and ``edges2shoes`` (edges → photo,
  49,825 pairs): ``.tar.gz`` archives of 256×512 JPEGs, each the photo and its partner side by
  side. The authors publish **no checksum** for these archives, so the archive's *structure* is
  verified instead: the image count of every split folder must equal the published one, and
  every image must be a 2:1 side-by-side pair (checked when it is decoded).
* CycleGAN ``horse2zebra`` (1,067 horses, 1,334 zebras for training): a ``.zip`` whose size and
  SHA-256 are the ones TensorFlow Datasets records for it (``url_checksums/cycle_gan.txt``),
  checked before extraction, plus the same structure check.

:func:`paired_task` / :func:`unpaired_task` return the official set when it can be had and
otherwise the offline task, with one :class:`~gancourse.data.DatasetFallbackWarning` line
naming both. :func:`paired_jitter` is pix2pix's augmentation (random crop after up-scaling,
mirroring) with the same draw for both images of a pair, so pairs stay aligned.
"""

from gancourse.data.translation.official import (
    OFFICIAL,
    OfficialArchive,
    load_official,
    paired_task,
    unpaired_task,
    verify_archive,
)
from gancourse.data.translation.tasks import (
    PairedImages,
    digit_domains,
    edges,
    edges2digits,
    edges2photos,
    luminance,
    paired_jitter,
    rescan_8x8,
    segments,
    segments2photos,
)

__all__ = ["OFFICIAL", "OfficialArchive", "PairedImages", "digit_domains", "edges", "edges2digits",
           "edges2photos", "load_official", "luminance", "paired_jitter", "paired_task", "rescan_8x8",
           "segments", "segments2photos", "unpaired_task", "verify_archive"]
