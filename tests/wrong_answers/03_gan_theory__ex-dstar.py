# Goes back to densities, exp(a) / (exp(a) + exp(b)): right near the data, but both exponentials
# underflow to 0 far in the tails and D* becomes 0/0 = NaN.
import numpy as np


def d_star(x, logp_data, logp_g):
    x = np.asarray(x, dtype=float)
    a = np.exp(np.asarray(logp_data(x), dtype=float))
    b = np.exp(np.asarray(logp_g(x), dtype=float))
    return a / (a + b)
