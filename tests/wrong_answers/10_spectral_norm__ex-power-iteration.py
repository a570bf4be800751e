# Computes everything under torch.no_grad(), the estimate too (as lipschitz.power_iteration does):
# the values are right, but spectral normalisation could not backpropagate through σ̂.
import torch


def my_power_iteration(W, n_iter, u):
    sigmas = []
    with torch.no_grad():
        u = u / u.norm()
        for _ in range(n_iter):
            v = W.T @ u
            v = v / v.norm()
            u = W @ v
            u = u / u.norm()
            sigmas.append(u @ W @ v)
    return torch.stack(sigmas)
