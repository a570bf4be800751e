# No create_graph=True: the norms and the penalty have the right values, but the gradient is a
# constant for autograd, so the penalty has no graph back to the critic and never trains it.
import torch


def my_gradient_penalty(netD, real, fake, eps, one_sided=False):
    eps = eps.view(-1, *([1] * (real.ndim - 1)))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(netD(x_hat).sum(), x_hat)
    norms = grad.flatten(1).norm(2, dim=1)
    excess = (norms - 1).clamp_min(0) if one_sided else norms - 1
    return excess.pow(2).mean(), norms
