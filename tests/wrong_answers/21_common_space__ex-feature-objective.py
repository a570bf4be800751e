# Typical mistake: adding the domain loss (helping the domain classifier) instead of subtracting it.
import torch
import torch.nn.functional as F


def feature_objective(label_logits, labels, dom_s, dom_t, lam):
    label_loss = F.cross_entropy(label_logits, labels)
    domain_loss = 0.5 * (F.binary_cross_entropy_with_logits(dom_s, torch.zeros_like(dom_s))
                         + F.binary_cross_entropy_with_logits(dom_t, torch.ones_like(dom_t)))
    return label_loss + lam * domain_loss
