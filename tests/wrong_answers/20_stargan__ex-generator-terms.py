# Typical mistake: the round trip goes back with the target label c_trg instead of the image's own c_org.
import torch.nn.functional as F


def generator_terms(G, D, x, c_org, c_trg):
    fake = G(x, c_trg)
    _, cls = D(fake)
    per_attr = F.binary_cross_entropy_with_logits(cls, c_trg, reduction="none").mean(0)
    rec = (G(fake, c_trg) - x).abs().mean()
    return {"cls_per_attribute": per_attr, "rec": rec}
