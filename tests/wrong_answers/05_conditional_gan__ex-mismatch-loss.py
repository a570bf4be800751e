# Averages the mismatch term over all K classes, the true label included: a real image with its
# own label is treated as a negative too (and the term is scaled by 1/K instead of 1/(K - 1)).
import torch.nn.functional as F


def d_loss_all_wrong(real_scores, fake_scores, class_scores, y, mismatch_weight=1.0):
    return (F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
            + mismatch_weight * F.softplus(class_scores).mean())
