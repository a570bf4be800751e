# Typical mistake: the weights sit on the hidden pixels (1 - M) and count the known ones, so the
# loss compares G(z) with x where x is unknown instead of where it is known.
import torch.nn.functional as F


def weighted_context_loss(g, x, mask, window=7):
    known_share = F.avg_pool2d(mask, window, stride=1, padding=window // 2, count_include_pad=True)
    weights = (1 - mask) * known_share
    return (weights * (g - x).abs()).flatten(1).sum(1)
