#!/usr/bin/env python3
"""Writes tests/data/numpy/lab_values.json: the numbers the lab notebook
(../shared/seed/manual_backprop_solutions.md) prints, computed by its own numpy code, so the
C++ tests compare against numpy rather than against themselves.

Dev-only: needs Debian's python3-numpy (use /usr/bin/python3). Floats are written with repr,
which round-trips exactly.
    /usr/bin/python3 tests/data/make_numpy_fixtures.py
"""
import json, os
import numpy as np

out = {}

# Solution 1: the single ReLU neuron.
x, y, w, b = 2.0, 1.0, 0.5, 0.1
z = w * x + b
y_hat = max(0.0, z)
loss = (y_hat - y) ** 2
dL_dy_hat = 2 * (y_hat - y)
dy_hat_dz = float(z > 0)
out["neuron"] = {"x": x, "y": y, "w": w, "b": b, "z": z, "y_hat": y_hat, "loss": loss, "dL_dy_hat": dL_dy_hat,
                 "dL_dw": dL_dy_hat * dy_hat_dz * x, "dL_db": dL_dy_hat * dy_hat_dz * 1.0}

# Solution 2: np.random.seed(42), then ManualMLP4Layer.__init__ and forward on XOR.
np.random.seed(42)
sizes = [2, 4, 3, 2, 1]
params = {}
for k in range(1, 5):
    params[f"W{k}"] = np.random.randn(sizes[k - 1], sizes[k]) * np.sqrt(2.0 / sizes[k - 1])
    params[f"b{k}"] = np.zeros((1, sizes[k]))
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
h = X
for k in range(1, 5):
    zk = h @ params[f"W{k}"] + params[f"b{k}"]
    h = np.maximum(0, zk) if k < 4 else 1 / (1 + np.exp(-zk))
out["mlp_seed42"] = {"params": {k: v.tolist() for k, v in params.items() if k[0] == "W"},
                     "initial_predictions_printed": h.flatten().round(4).tolist(),
                     "initial_loss_printed": f"{np.mean((h - Y) ** 2):.6f}"}

# Solution 3: BCE on five logits, with the notebook's clip at 1e-10.
y_true = np.array([1, 0, 1, 1, 0])
logits = np.array([2.0, -1.5, 1.0, 0.5, -2.0])
p = 1 / (1 + np.exp(-logits))
pc = np.clip(p, 1e-10, 1 - 1e-10)
losses = -(y_true * np.log(pc) + (1 - y_true) * np.log(1 - pc))
grad_full = (-y_true / pc + (1 - y_true) / (1 - pc)) * (p * (1 - p))
out["bce"] = {"labels": y_true.tolist(), "logits": logits.tolist(),
              "predictions_printed": p.round(4).tolist(), "losses_printed": losses.round(4).tolist(),
              "mean_printed": f"{losses.mean():.4f}", "grad_full_printed": grad_full.round(4).tolist(),
              "grad_simple_printed": (p - y_true).round(4).tolist()}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy", "lab_values.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
