"""Layers that write into the arrays they are given: each computes the right numbers, then changes its
caller's array, which `compare.py check` names (docs/robustness.md)."""

from scratch_nn.layers import Linear, ReLU


class DoublingLinear(Linear):
    """Right gradients, then the upstream gradient doubled in place: g *= 2 on the caller's array."""

    def backward(self, grad):
        grad_input = super().backward(grad)
        grad *= 2
        return grad_input


class ZeroingReLU(ReLU):
    """The right output, then its input zeroed: the previous layer's output, which it keeps for backward."""

    def forward(self, x):
        output = super().forward(x)
        x[...] = 0
        return output
