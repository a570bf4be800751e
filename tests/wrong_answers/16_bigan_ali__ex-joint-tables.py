# Typical mistake: the generator's table indexed [z, G(z)] (code on the rows), i.e. P_GZ transposed
import numpy as np


def my_joint_tables(p_x, p_z, enc, gen):
    p_x, p_z, enc, gen = (np.asarray(a) for a in (p_x, p_z, enc, gen))
    p_ex = np.zeros((len(p_x), len(p_z)))
    p_ex[np.arange(len(p_x)), enc] = p_x
    p_gz = np.zeros((len(p_z), len(p_x)))
    p_gz[np.arange(len(p_z)), gen] = p_z
    return p_ex, p_gz
