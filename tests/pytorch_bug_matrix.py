#!/usr/bin/env python3
"""Outside-in check of `gradverify check --gradients`, as the core and diagnosis issues' "Done
when" state it: random problems gradverify has never seen (float64 and float32), PyTorch's own
gradients must pass with no hint, and each classic student bug, written as real numpy backward
code independently of gradverify's C++ catalog, must
  - fail exactly the parameters it changes (by np.allclose against the correct numpy backward),
  - carry its own hint on every failing parameter and never another mistake's (hint rate per bug),
  - have a first divergence in the report.

Optional: needs Debian's python3-torch and python3-numpy, which the build and ctest do not.
    python3 tests/pytorch_bug_matrix.py build/gradverify [trials]
Last run (40 trials, 640 checks): 0 disagreements; hint rates in the README.
"""
import json, os, subprocess, sys, tempfile

import numpy as np
import torch

G = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/gradverify")
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 60
os.chdir(tempfile.mkdtemp(prefix="gradverify_matrix_"))
ACT = {"relu": (lambda z: np.maximum(z, 0)), "sigmoid": (lambda z: 1/(1+np.exp(-z))), "tanh": np.tanh, "identity": (lambda z: z)}
def dact(a, z, h, bug):
    if bug == "no_dact": return np.ones_like(z)
    if a == "relu": return ((z >= 0) if bug == "relu0" else (z > 0)).astype(z.dtype)
    if a == "sigmoid":
        s = 1/(1+np.exp(-h)) if bug == "sigmoid_of_output" else h  # sigmoid(h): the helper applied again
        return s*(1-s)
    if a == "tanh": return 1-h*h
    return np.ones_like(z)
def student(p, bug, dt):
    L = len(p["layers"]) - 1
    W = [np.array(p["params"][f"W{k}"], dt) for k in range(1, L+1)]
    b = [np.array(p["params"][f"b{k}"], dt).reshape(1, -1) for k in range(1, L+1)]
    X = np.array(p["X"], dt); y = np.array(p["y"], dt); N = X.shape[0]
    hs, zs = [X], []
    for k in range(L):
        z = hs[-1] @ W[k] + b[k]; zs.append(z); hs.append(ACT[p["activations"][k]](z).astype(dt))
    P = hs[-1]; n = P.size; D = P.shape[1]
    if p["loss"] == "mse": d = (1 if bug == "half" else 2)*(P-y)
    elif p["loss"] == "bce": d = (P-y)/np.maximum(P*(1-P), 1e-12)
    else: d = 1/(1+np.exp(-P)) - y
    d = d if bug == "sum" else d / D if bug == "sum_batch" else d / N if bug == "batch_only" else d / n
    if bug == "sign": d = -d
    g = {}
    for k in reversed(range(L)):
        dz = d * dact(p["activations"][k], zs[k], hs[k+1], bug)
        if bug == "bce_extra" and k == L-1 and p["loss"] == "bce": dz = (P-y)/n * P*(1-P)
        g[f"dW{k+1}"] = np.zeros_like(W[k]) if bug == "zero" and k == 0 else hs[k].T @ dz
        g[f"db{k+1}"] = dz[0:1] if bug == "bias_row" else (dz if bug == "bias_full" else dz.mean(0, keepdims=True) if bug == "bias_mean" else dz.sum(0, keepdims=True))
        d = dz @ W[k].T
    if bug == "nan": g["dW1"][0, 0] = np.nan
    if bug == "missing": g.pop("dW2", None)
    if bug == "transposed" and "dW2" in g: g["dW2"] = g["dW2"].T
    return g
def differs(a, c):
    if a is None or a.shape != c.shape: return True
    return not np.allclose(a, c, rtol=1e-5 if a.dtype == np.float32 else 1e-7, atol=0)  # "differ" per np.allclose
BUGS = ["sum", "sum_batch", "batch_only", "sign", "half", "bias_row", "bias_full", "bias_mean", "relu0",
        "sigmoid_of_output", "no_dact", "bce_extra", "zero", "nan", "missing", "transposed"]
def expected_kind(bug, D):
    return {"sum": "loss_summed" if D == 1 else "loss_summed_over_all", "sum_batch": "loss_summed",
            "batch_only": "loss_mean_over_batch_only", "sign": "loss_sign_flipped", "half": "mse_factor_two_missing",
            "bias_row": "bias_first_row", "bias_full": "bias_per_sample", "bias_mean": "bias_averaged",
            "relu0": "relu_grad_one_at_zero", "sigmoid_of_output": "derivative_of_output",
            "no_dact": "activation_derivative_forgotten", "bce_extra": "bce_extra_sigmoid_derivative",
            "zero": "all_zero", "nan": "nonfinite", "transposed": "transposed"}.get(bug, "")
rates = {bug: [0, 0, 0] for bug in BUGS}  # changed, hinted, wrong hints
rng = np.random.RandomState(1234)
bad = 0; total = 0
for trial in range(TRIALS):
    L = rng.randint(1, 5); layers = [int(rng.randint(1, 7))] + [int(rng.randint(1, 9)) for _ in range(L)]
    loss = ["mse", "bce", "bce_with_logits"][trial % 3]
    acts = [str(rng.choice(["relu", "sigmoid", "tanh", "identity"])) for _ in range(L-1)] + [{"mse": str(rng.choice(["sigmoid","identity","tanh"])), "bce": "sigmoid", "bce_with_logits": "identity"}[loss]]
    dtype = ["float64", "float32"][trial % 2]; dt = np.float64 if dtype == "float64" else np.float32
    N = int(rng.randint(1, 9))
    # half the trials: integer-valued inputs and zero biases, so relu sees z == 0 exactly
    ints = trial % 4 < 2
    X = rng.randint(0, 2, (N, layers[0])).astype(float) if ints else rng.randn(N, layers[0])
    params = {}
    for k in range(1, L+1):
        params[f"W{k}"] = (rng.randn(layers[k-1], layers[k]) * np.sqrt(2/layers[k-1])).astype(dt).astype(float).tolist()
        params[f"b{k}"] = ([[0.0]*layers[k]] if ints else (rng.randn(1, layers[k])*0.1).astype(dt).astype(float).tolist())
    y = rng.randn(N, layers[-1]) if loss == "mse" else (rng.rand(N, layers[-1]) < .5)*1.0
    p = {"layers": layers, "activations": acts, "loss": loss, "dtype": dtype, "params": params, "X": X.astype(dt).astype(float).tolist(), "y": y.tolist()}
    json.dump(p, open("p.json", "w"))
    # PyTorch's own gradients must pass
    td = torch.float64 if dtype == "float64" else torch.float32
    Ws = [torch.tensor(np.array(params[f"W{k}"]), dtype=td, requires_grad=True) for k in range(1, L+1)]
    bs = [torch.tensor(np.array(params[f"b{k}"]).reshape(-1), dtype=td, requires_grad=True) for k in range(1, L+1)]
    h = torch.tensor(np.array(p["X"]), dtype=td)
    for k in range(L): h = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}[acts[k]](h @ Ws[k] + bs[k])
    lf = {"mse": torch.nn.functional.mse_loss, "bce": torch.nn.functional.binary_cross_entropy, "bce_with_logits": torch.nn.functional.binary_cross_entropy_with_logits}[loss]
    lf(h, torch.tensor(y, dtype=td)).backward()
    tg = {}
    for k in range(L): tg[f"dW{k+1}"] = Ws[k].grad.double().tolist(); tg[f"db{k+1}"] = bs[k].grad.double().tolist()
    json.dump(tg, open("g.json", "w"))
    r = subprocess.run([G, "check", "--problem", "p.json", "--gradients", "g.json", "--format", "json"], capture_output=True, text=True)
    total += 1
    if r.returncode not in (0, 3): bad += 1; print("TORCH GRADS DID NOT PASS", trial, layers, acts, loss, dtype, r.returncode, r.stderr[:200])
    correct = student(p, "none", dt)
    rep = json.loads(r.stdout) if r.returncode in (0, 3) else {"parameters": []}
    if any(q.get("hint") for q in rep["parameters"]): bad += 1; print("HINT ON TORCH GRADS", trial)
    for bug in BUGS:
        g = student(p, bug, dt)
        expect = sorted(k[1:] for k in correct if differs(g.get(k), correct[k]))
        json.dump({k: v.astype(float).tolist() for k, v in g.items()}, open("b.json", "w"))  # NaN as Python writes it
        r = subprocess.run([G, "check", "--problem", "p.json", "--gradients", "b.json", "--format", "json"], capture_output=True, text=True)
        total += 1
        if r.returncode == 2: bad += 1; print("INPUT ERROR", trial, bug, r.stderr[:300]); continue
        rep = json.loads(r.stdout); got = sorted(q["name"] for q in rep["parameters"] if not q["passed"])
        if got != expect:
            bad += 1; print(f"MISMATCH trial {trial} {layers} {acts} {loss} {dtype} N={N} bug={bug}: expected {expect} got {got} exit {r.returncode}")
        if not expect: continue
        kind = expected_kind(bug, layers[-1]); failing = [q for q in rep["parameters"] if not q["passed"]]
        rates[bug][0] += 1
        rates[bug][1] += all(kind in q["hint_kinds"] for q in failing) if kind else 0
        wrong = any(q["hint_kinds"] and kind not in q["hint_kinds"] for q in failing)
        rates[bug][2] += wrong
        if wrong: bad += 1; print(f"WRONG HINT trial {trial} bug={bug}: {[q['hint'] for q in failing][:1]}")
        if rep.get("first_divergence") is None: bad += 1; print(f"NO FIRST DIVERGENCE trial {trial} bug={bug}")
for bug, (changed, hinted, wrong) in rates.items():
    print(f"  {bug:18} changed {changed:3}  hinted {hinted:3}  wrong hints {wrong}")
print(f"{total} checks, {bad} disagreements")
sys.exit(1 if bad else 0)
