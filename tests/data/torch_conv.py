"""Reference conv2d outputs and gradients from PyTorch, in nalgrad's layouts (NHWC activations,
HWIO kernels), written to conv_reference.txt for tests/test_conv.cpp.

Run from this folder with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 torch_conv.py

PyTorch has no SAME_UPPER padding with strides, so every padding is applied explicitly with
F.pad; SAME is resolved here by the formula of docs/semantics.md, independently of nalgrad's
make_window. Per configuration `cN_`: options = [sh, sw, dh, dw, mode, top, bottom, left, right]
(mode 0 valid, 1 same, 2 explicit; the pads are the resolved ones), x, k, b (when present), the
output gradient dy, and PyTorch's y, dx, dk, db.
"""
import math

import torch
import torch.nn.functional as F

from reference_io import write_reference

VALID, SAME, EXPLICIT = 0, 1, 2

# (mb, xh, xw, xchn, ychn, kh, kw, stride, dilation, mode, explicit pads (t, b, l, r), bias)
CONFIGS = [
    (2, 5, 5, 3, 4, 2, 2, (1, 1), (1, 1), SAME, None, True),  # even kernel: pad after only
    (1, 7, 6, 2, 3, 3, 3, (2, 2), (1, 1), SAME, None, False),  # strided SAME, odd total
    (2, 6, 7, 3, 2, 3, 2, (2, 1), (1, 2), EXPLICIT, (1, 2, 0, 3), True),  # asymmetric explicit
    (1, 9, 8, 2, 3, 3, 3, (1, 1), (2, 2), VALID, None, True),  # dilated VALID
    (2, 11, 10, 3, 2, 2, 3, (3, 2), (2, 1), SAME, None, True),  # SAME with dilation and stride
    (3, 7, 5, 3, 5, 1, 1, (2, 2), (1, 1), VALID, None, True),  # 1x1 strided (oneDNN defect case)
]


def same_pads(size, kernel, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def main():
    torch.manual_seed(20240607)
    tensors = {}
    for n, (mb, xh, xw, xc, yc, kh, kw, stride, dil, mode, pads, bias) in enumerate(CONFIGS):
        if mode == SAME:
            top, bottom = same_pads(xh, kh, stride[0], dil[0])
            left, right = same_pads(xw, kw, stride[1], dil[1])
        elif mode == VALID:
            top = bottom = left = right = 0
        else:
            top, bottom, left, right = pads
        x = torch.rand(mb, xh, xw, xc, dtype=torch.float64) * 2 - 1
        k = torch.rand(kh, kw, xc, yc, dtype=torch.float64) * 2 - 1
        b = torch.rand(yc, dtype=torch.float64) * 2 - 1 if bias else None
        x.requires_grad_()
        k.requires_grad_()
        if b is not None:
            b.requires_grad_()
        x_nchw = F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
        k_oihw = k.permute(3, 2, 0, 1)
        y = F.conv2d(x_nchw, k_oihw, b, stride=stride, dilation=dil).permute(0, 2, 3, 1)
        dy = torch.rand(y.shape, dtype=torch.float64) * 2 - 1
        y.backward(dy)
        p = "c%d_" % n
        tensors[p + "options"] = torch.tensor(
            [stride[0], stride[1], dil[0], dil[1], mode, top, bottom, left, right],
            dtype=torch.float64)
        tensors[p + "x"] = x
        tensors[p + "k"] = k
        tensors[p + "dy"] = dy
        tensors[p + "y"] = y
        tensors[p + "dx"] = x.grad
        tensors[p + "dk"] = k.grad
        if b is not None:
            tensors[p + "b"] = b
            tensors[p + "db"] = b.grad
    write_reference("conv_reference.txt", tensors,
                    header="conv2d references from torch_conv.py (PyTorch %s); NHWC / HWIO"
                    % torch.__version__)


if __name__ == "__main__":
    main()
