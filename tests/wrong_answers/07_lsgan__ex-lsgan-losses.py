# Forgets the ½ when differentiating the generator loss: d/ds ½ mean((s - c)²) taken as 2 (s - c) / B.
def my_d_loss_ls(real_scores, fake_scores, a=0.0, b=1.0):
    return 0.5 * ((real_scores - b).pow(2).mean() + (fake_scores - a).pow(2).mean())


def my_g_loss_ls(fake_scores, c=1.0):
    return 0.5 * (fake_scores - c).pow(2).mean()


def my_g_score_grads(fake_scores, c=1.0):
    return 2 * (fake_scores - c) / fake_scores.shape[0]
