# Forgets to detach the fake batch: the critic's loss backpropagates into the generator's graph
# (the critic update itself is right, but the generator's parameters receive gradients too).
import torch


def my_critic_step(netD, optD, real, fake, c):
    loss = netD(fake).mean() - netD(real).mean()
    optD.zero_grad()
    loss.backward()
    optD.step()
    with torch.no_grad():
        for p in netD.parameters():
            p.clamp_(-c, c)
    return -loss.item()
