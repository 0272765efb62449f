"""The reference solution of the Python kit (for course staff: don't hand it out). It scores
full marks on both built-in rubrics, lab and multiclass; the grading tests hold it to that."""
import numpy as np

from forward import mlp_forward, sigmoid


def relu_backward(z, dh):
    return dh * (z > 0)


def sigmoid_backward(z, dh):
    s = sigmoid(z)
    return dh * s * (1 - s)


def tanh_backward(z, dh):
    return dh * (1 - np.tanh(z) ** 2)


def identity_backward(z, dh):
    return dh.copy()


def leaky_relu_backward(z, dh, negative_slope):
    return dh * np.where(z > 0, 1.0, negative_slope)


def linear_backward(x, W, dz):
    return x.T @ dz, dz.sum(axis=0), dz @ W.T


def mse_backward(pred, y):
    return 2 * (pred - y) / pred.size


def bce_backward(pred, y):
    # PyTorch floors the denominator at 1e-12.
    return (pred - y) / np.maximum(pred * (1 - pred), 1e-12) / pred.size


def bce_with_logits_backward(logits, y):
    return (sigmoid(logits) - y) / logits.size


def cross_entropy_backward(logits, y):
    # Shifted by each row's max, so that exp never overflows; y's row sums are 1 for class
    # probabilities, and keeping them keeps any other row exact too.
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    return (s * y.sum(axis=1, keepdims=True) - y) / logits.shape[0]


ACTIVATION_BACKWARD = {"relu": relu_backward, "sigmoid": sigmoid_backward, "tanh": tanh_backward,
                       "identity": identity_backward}
LOSS_BACKWARD = {"mse": mse_backward, "bce": bce_backward, "bce_with_logits": bce_with_logits_backward,
                 "cross_entropy": cross_entropy_backward}


def mlp_backward(params, activations, loss, X, y, weight_decay=0.0, negative_slope=0.01):
    zs, hs = mlp_forward(params, activations, X, negative_slope)
    grads = {}
    dh = LOSS_BACKWARD[loss](hs[-1], y)
    for k in range(len(activations), 0, -1):
        grads["dh%d" % k] = dh
        if activations[k - 1] == "leaky_relu":
            dz = leaky_relu_backward(zs[k - 1], dh, negative_slope)
        else:
            dz = ACTIVATION_BACKWARD[activations[k - 1]](zs[k - 1], dh)
        grads["dz%d" % k] = dz
        dW, grads["db%d" % k], dh = linear_backward(X if k == 1 else hs[k - 2], params["W%d" % k], dz)
        grads["dW%d" % k] = dW + weight_decay * params["W%d" % k]  # (λ/2)·‖W‖² gives λ·W; no term in db
    return grads
