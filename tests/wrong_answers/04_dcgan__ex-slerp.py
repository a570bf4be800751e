# Plain slerp of the raw codes: right for codes of equal norm, but for codes of different norms
# the norm along the path is not the linear (1 - t)|z0| + t|z1| (it sags in the middle).
import torch


def slerp_vectors(z0, z1, t):
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
