# Clips only at 0 (max(0, ...)) and forgets the upper bound: k can grow past 1, so D would push
# the fakes' errors up harder than its own reconstruction of real images.
def my_k_trajectory(k0, real_losses, fake_losses, gamma, lambda_k):
    k, ks, pinned = float(k0), [], []
    for real_loss, fake_loss in zip(real_losses, fake_losses):
        raw = k + lambda_k * (gamma * float(real_loss) - float(fake_loss))
        k = max(0.0, raw)
        ks.append(k)
        pinned.append(raw != k)
    return ks, pinned
