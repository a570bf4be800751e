# Typical mistake: the VAE's pixel-space error ½‖x − x̃‖² instead of the discriminator-feature one
def my_feature_llike(features, x, x_rec):
    return 0.5 * (x - x_rec).pow(2).flatten(1).sum(1)
