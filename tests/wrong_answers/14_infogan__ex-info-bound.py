# Typical mistake: forgets the entropy H(c) (and log 2 per continuous code). E[log Q(c|x)] is a
# loss with the right gradient, but not a lower bound on I(c; x).
import math

import torch


def my_info_bound(cat_logits, cat, prior, cont_mean, cont, sigma=1.0):
    log_q = torch.log_softmax(cat_logits.float(), dim=1)
    l_cat = log_q.gather(1, cat.view(-1, 1)).mean()
    ll = -0.5 * math.log(2 * math.pi * sigma ** 2) - (cont - cont_mean) ** 2 / (2 * sigma ** 2)
    l_cont = ll.sum(1).mean()
    return l_cat, l_cont
