# Adds k - 1 per layer without the jump: forgets that after strided layers one kernel step
# spans several input pixels (the product of the earlier strides).
def receptive_field_sizes(layers):
    sizes, r = [], 1
    for k, _stride in layers:
        r = r + (k - 1)
        sizes.append(r)
    return sizes
