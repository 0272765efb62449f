"""Your backward passes, in numpy. Each function returns zeros of the right shape until you
write it, so the runner runs from the start (and scores 0). Check yourself with

    gradverify grade --submission-cmd "python3 runner.py backprop.py"                               (the first lab)
    gradverify grade --rubric builtin:multiclass --submission-cmd "python3 runner.py backprop.py"   (the next lab)

The shapes are the lab's: x is (N, in), W is (in, out), b is (out,), and every gradient has the
shape of what it differentiates (dW like W, db like b). forward.py has the forward passes.
"""
import numpy as np

from forward import mlp_forward, sigmoid  # noqa: F401  (given; you will need them)


# ---- activations: given the pre-activation z and dL/dh, return dL/dz --------------------------

def relu_backward(z, dh):
    # TODO: dL/dz = dL/dh where z > 0, else 0 (ReLU'(0) is 0, as in PyTorch)
    return np.zeros_like(z)


def sigmoid_backward(z, dh):
    # TODO: dL/dz = dL/dh * s * (1 - s), with s = sigmoid(z)
    return np.zeros_like(z)


def tanh_backward(z, dh):
    # TODO: dL/dz = dL/dh * (1 - tanh(z)^2)
    return np.zeros_like(z)


def identity_backward(z, dh):
    # TODO
    return np.zeros_like(z)


def leaky_relu_backward(z, dh, negative_slope):
    # TODO (the next lab): dL/dz = dL/dh where z > 0, else negative_slope * dL/dh (at z = 0 too, as in PyTorch)
    return np.zeros_like(z)


# ---- linear: z = x @ W + b ----------------------------------------------------------------------

def linear_backward(x, W, dz):
    """Return (dW, db, dx): dL/dW (in, out), dL/db (out,) and dL/dx (N, in)."""
    # TODO: every sample contributes to dW and db
    return np.zeros_like(W), np.zeros(W.shape[1]), np.zeros_like(x)


# ---- losses: the gradient of the MEAN loss over every element, with respect to pred ------------

def mse_backward(pred, y):
    # TODO: L = mean((pred - y)^2)
    return np.zeros_like(pred)


def bce_backward(pred, y):
    # TODO: pred are probabilities; L = mean(-(y log p + (1 - y) log(1 - p)))
    return np.zeros_like(pred)


def bce_with_logits_backward(logits, y):
    # TODO: pred are logits, p = sigmoid(logits)
    return np.zeros_like(logits)


def cross_entropy_backward(logits, y):
    # TODO (the next lab): softmax cross-entropy, the MEAN over the N samples (rows), with respect to
    # the logits. y holds one row of class probabilities per sample (one-hot for a class index).
    # s = softmax of each row, then (s - y) / N; compute it stably, exp(logits - max of the row),
    # or logits of 1000 overflow to inf.
    return np.zeros_like(logits)


# ---- the whole net ------------------------------------------------------------------------------

def mlp_backward(params, activations, loss, X, y, weight_decay=0.0, negative_slope=0.01):
    """Return a dict: "dW1", "db1", ... for every layer, and (optional, but they help the grader
    tell you where a mistake is) "dz1", "dh1", ...: dL/dz and dL/dh of every layer.

    params holds "W1", "b1", ...; activations one name per layer; loss is "mse", "bce",
    "bce_with_logits" or (the next lab) "cross_entropy". With weight_decay, the loss adds
    (weight_decay / 2) * sum_k ||W_k||^2, and each dW its gradient; negative_slope is every
    leaky_relu layer's.
    """
    grads = {}
    for k in range(1, len(activations) + 1):
        # TODO: run mlp_forward, then go backward from the loss, layer by layer
        grads["dW%d" % k] = np.zeros_like(params["W%d" % k])
        grads["db%d" % k] = np.zeros_like(params["b%d" % k])
    return grads
