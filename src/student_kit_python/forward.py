"""Given: the forward passes of the manual-backprop lab, in numpy. You don't need to change this file.

Shapes follow the lab's notebook:
    z = x @ W + b     x is (N, in), W is (in, out), b is (out,), z is (N, out)
    h = act(z)        relu, leaky_relu, sigmoid, tanh or identity
    L = mean over all elements of loss(h_L, y)              mse, bce, bce_with_logits
    L = mean over the N samples of -sum_c y log softmax(h_L)  cross_entropy (h_L are logits)
      + (weight_decay / 2) * sum_k ||W_k||^2                  weights only, not biases
"""
import numpy as np


def sigmoid(x):
    # Stable on both sides: exp never overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def activation_forward(activation, z, negative_slope=None):
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "leaky_relu":
        # No default: a slope left out would silently be another net's.
        if negative_slope is None:
            raise ValueError("leaky_relu needs its slope: pass mlp_backward's negative_slope to mlp_forward")
        return np.where(z > 0, z, negative_slope * z)
    if activation == "sigmoid":
        return sigmoid(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "identity":
        return z
    raise ValueError("unknown activation " + activation)


def mlp_forward(params, activations, X, negative_slope=None):
    """Every layer's z and h, as lists: zs[k] and hs[k] belong to layer k+1; hs[-1] is the prediction."""
    zs, hs = [], []
    h = X
    for k, activation in enumerate(activations, start=1):
        z = h @ params["W%d" % k] + params["b%d" % k]
        h = activation_forward(activation, z, negative_slope)
        zs.append(z)
        hs.append(h)
    return zs, hs
