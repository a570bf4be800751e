# Swaps the two generator gradients (thinks the minimax loss is the one that keeps the gradient):
# both are -1/(2m) at s = 0, but at s = -30 the minimax one must vanish, not stay at -1/m.
import torch
import torch.nn.functional as F


def bce_gan_losses(real_scores, fake_scores):
    loss_d = F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
    return loss_d, F.softplus(-fake_scores).mean(), -F.softplus(fake_scores).mean()


def generator_logit_grads(fake_scores):
    m = fake_scores.shape[0]
    return -torch.sigmoid(fake_scores) / m, -torch.sigmoid(-fake_scores) / m
