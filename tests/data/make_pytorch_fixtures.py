#!/usr/bin/env python3
"""Writes problems and the gradients real PyTorch computes for them, as gradverify's tests
read them: tests/data/pytorch/<name>_problem.json and <name>_gradients.json.

These are inputs, not expected outputs: the tests hand the gradients to `gradverify check`,
which recomputes its LibTorch reference, and then plant classic bugs in them. Regenerate
with Debian's python3-torch and python3-numpy (not needed to build or test):

    python3 tests/data/make_pytorch_fixtures.py
"""
import json
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent / "pytorch"
ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda z: z,
       "leaky_relu": torch.nn.functional.leaky_relu}


def activation(written):
    """"leaky_relu:0.2" is leaky_relu with negative_slope 0.2, as gradverify writes it."""
    name, _, slope = written.partition(":")
    if slope:
        return lambda z: ACT[name](z, negative_slope=float(slope))
    return ACT[name]
LOSS = {
    "mse": torch.nn.functional.mse_loss,
    "bce": torch.nn.functional.binary_cross_entropy,
    "bce_with_logits": torch.nn.functional.binary_cross_entropy_with_logits,
    "cross_entropy": torch.nn.functional.cross_entropy,
}


def make(name, layers, activations, loss, dtype, batch, seed, targets="labels", weight_decay=0.0):
    """targets, for cross_entropy: "indices" (y a list of class numbers, torch's long target)
    or "probabilities" (y a row of class probabilities per sample). weight_decay: the loss
    gets (weight_decay / 2) * the sum of every weight squared, biases not included."""
    rng = np.random.RandomState(seed)
    params = {}
    for k in range(1, len(layers)):
        params[f"W{k}"] = rng.randn(layers[k - 1], layers[k]) * np.sqrt(2.0 / layers[k - 1])
        params[f"b{k}"] = rng.randn(layers[k]) * 0.1
    X = rng.randn(batch, layers[0])
    y = rng.randn(batch, layers[-1]) if loss == "mse" else (rng.rand(batch, layers[-1]) < 0.5) * 1.0
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    if targets == "indices":
        y = rng.randint(0, layers[-1], size=batch)
        target = torch.tensor(y, dtype=torch.long)
    elif targets == "probabilities":
        y = rng.rand(batch, layers[-1])
        y = torch.tensor(y / y.sum(axis=1, keepdims=True), dtype=torch_dtype).double().numpy()
        target = torch.tensor(y, dtype=torch_dtype)
    else:
        target = torch.tensor(y, dtype=torch_dtype)

    # PyTorch in the problem's dtype, nn.Linear layers with the weights copied in.
    linears = [torch.nn.Linear(layers[k - 1], layers[k]).to(torch_dtype) for k in range(1, len(layers))]
    with torch.no_grad():
        for k, linear in enumerate(linears, start=1):
            linear.weight.copy_(torch.tensor(params[f"W{k}"].T, dtype=torch_dtype))
            linear.bias.copy_(torch.tensor(params[f"b{k}"], dtype=torch_dtype))
    h = torch.tensor(X, dtype=torch_dtype)
    zs, hs = [], []
    for linear, act in zip(linears, activations):
        z = linear(h)
        z.retain_grad()
        h = activation(act)(z) * 1  # "* 1": a node of its own even for identity, so it has a grad
        h.retain_grad()
        zs.append(z)
        hs.append(h)
    total = LOSS[loss](h, target)
    if weight_decay:
        total = total + weight_decay / 2 * sum((linear.weight ** 2).sum() for linear in linears)
    total.backward()

    # The problem as the C++ side sees it: the values rounded to the dtype, written exactly.
    as_dtype = lambda a: torch.tensor(a, dtype=torch_dtype).double().tolist()
    problem = {"layers": layers, "activations": activations, "loss": loss, "dtype": dtype,
               "params": {k: as_dtype(v) for k, v in params.items()}, "X": as_dtype(X),
               "y": y.tolist() if targets == "indices" else as_dtype(y)}
    if weight_decay:
        problem["weight_decay"] = weight_decay
    grads = {}
    for k, linear in enumerate(linears, start=1):
        grads[f"dW{k}"] = linear.weight.grad.T.double().tolist()
        grads[f"db{k}"] = linear.bias.grad.double().tolist()
        grads[f"dz{k}"] = zs[k - 1].grad.double().tolist()
        grads[f"dh{k}"] = hs[k - 1].grad.double().tolist()
    (OUT / f"{name}_problem.json").write_text(json.dumps(problem) + "\n")
    (OUT / f"{name}_gradients.json").write_text(json.dumps(grads) + "\n")


OUT.mkdir(exist_ok=True)
make("tanh_relu_sigmoid_mse_float64", [3, 5, 4, 2], ["tanh", "relu", "sigmoid"], "mse", "float64", 6, 17)
make("relu_bce_float32", [4, 6, 3, 1], ["relu", "relu", "sigmoid"], "bce", "float32", 8, 5)
make("sigmoid_logits_float32", [2, 7, 3], ["sigmoid", "identity"], "bce_with_logits", "float32", 5, 23)
make("relu_softmax_indices_float64", [6, 8, 5], ["relu", "identity"], "cross_entropy", "float64", 7, 31, "indices")
make("tanh_softmax_probabilities_float32", [4, 6, 4], ["tanh", "identity"], "cross_entropy", "float32", 6, 37,
     "probabilities")
make("relu_softmax_weight_decay_float64", [5, 7, 6, 3], ["relu", "tanh", "identity"], "cross_entropy", "float64", 8,
     41, "indices", weight_decay=0.01)
make("leaky_softmax_float32", [6, 9, 4], ["leaky_relu:0.2", "identity"], "cross_entropy", "float32", 7, 43, "indices")
print("wrote", sorted(p.name for p in OUT.iterdir()))
