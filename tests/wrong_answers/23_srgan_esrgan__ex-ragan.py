# Gives G only the fake half of its relativistic loss (as in the standard GAN): L_G then ignores
# the real images, and its value and its gradient through the real scores are wrong.
import torch.nn.functional as F


def my_ragan_losses(real_scores, fake_scores):
    d_real = real_scores - fake_scores.mean()
    d_fake = fake_scores - real_scores.mean().detach()
    loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    loss_g = F.softplus(-d_fake).mean()
    return loss_d, loss_g
