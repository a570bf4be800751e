# Feeds each generator its own input domain for the identity terms (G_AB(a) vs a) instead of
# images already in its output domain (F(a) vs a for domain A, G(b) vs b for domain B).
def cycle_identity_terms(G_AB, G_BA, a, b):
    def per_sample(x, y):
        return (x - y).abs().flatten(1).mean(1)

    return {"cycle_A": per_sample(G_BA(G_AB(a)), a), "cycle_B": per_sample(G_AB(G_BA(b)), b),
            "identity_A": per_sample(G_AB(a), a), "identity_B": per_sample(G_BA(b), b)}
