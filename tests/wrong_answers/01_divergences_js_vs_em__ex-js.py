# Forgets the ½ in front of each KL to the mixture: per-bin KL(p||m) + KL(q||m), which adds up to 2 JS.
import numpy as np


def js_terms(p, q):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    terms = np.zeros_like(p)
    for h in (p, q):
        keep = h > 0
        terms[keep] += h[keep] * np.log(h[keep] / m[keep])
    return terms
