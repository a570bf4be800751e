# Counts low-quality samples as covering: every sample is labelled with its nearest centre and a
# mode counts as covered when it is anybody's nearest centre, however far away the sample is.
import torch


def my_mode_coverage(samples, centers, sigma):
    dist = torch.cdist(samples.double(), centers.double())
    nearest_dist, nearest = dist.min(1)
    hq = nearest_dist < 3 * sigma
    return nearest, int(nearest.unique().numel()), float(hq.double().mean())
