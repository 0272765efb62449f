#!/usr/bin/env python3
"""A student's submission in plain Python (no numpy), speaking gradverify's grading protocol:
one JSON request on stdin, one JSON answer on stdout.

    python3 python_student.py [BUG]

With no BUG it is correct. Each BUG is a classic mistake, written as a student writes it, so
that the grader's tests can check that exactly the cases it touches lose points:
  relu_ge         ReLU'(0) = 1 (z >= 0)            sigmoid_of_output  sigma'(sigma(z))
  mse_no_two      MSE gradient without its 2        bce_sum            BCE summed, not averaged
  linear_db_mean  db averaged over the batch        dx_untransposed    (linear only) dx wrong
  mlp_bias_mean   the MLP's db averaged             tanh_forgot        tanh' left out
Three no catalogue names, for the class report's identical wrong answers:
  tanh_scaled     tanh' = 1 - 0.9 tanh(z)^2         mse_sign           MSE gradient sign(pred - y)
  mse_clip        MSE gradient clip(pred - y, -1, 1): the same as mse_sign where |pred - y| > 1
  six_digits      every answer right, but printed to 6 significant digits (as C++'s cout does)
Two more are right answers in another form, as real student code writes them:
  column_layout   biases as (n, 1) columns and dz, dh column-per-sample (Nielsen's layout)
  misnamed        every key without its d: W1 for dW1, dz for dz... (grad_dz for an op)
"""
import json
import math
import sys

BUG = sys.argv[1] if len(sys.argv) > 1 else ""


def zeros(r, c):
    return [[0.0] * c for _ in range(r)]


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def transpose(a):
    return [list(row) for row in zip(*a)]


def sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def act_forward(name, z):
    f = {"relu": lambda v: v if v > 0 else 0.0, "sigmoid": sigmoid, "tanh": math.tanh, "identity": lambda v: v}[name]
    return [[f(v) for v in row] for row in z]


def act_backward(name, z, dh):
    def d(v):
        if name == "relu":
            return 1.0 if (v >= 0 if BUG == "relu_ge" else v > 0) else 0.0
        if name == "sigmoid":
            s = sigmoid(sigmoid(v)) if BUG == "sigmoid_of_output" else sigmoid(v)
            return s * (1 - s)
        if name == "tanh":
            if BUG == "tanh_scaled":
                return 1 - 0.9 * math.tanh(v) ** 2
            return 1.0 if BUG == "tanh_forgot" else 1 - math.tanh(v) ** 2
        return 1.0
    return [[dh[i][j] * d(z[i][j]) for j in range(len(z[0]))] for i in range(len(z))]


def linear_backward(x, W, dz, bias_mean=False):
    dW = matmul(transpose(x), dz)
    db = [sum(dz[n][o] for n in range(len(dz))) for o in range(len(dz[0]))]
    if bias_mean:
        db = [v / len(dz) for v in db]
    dx = matmul(dz, transpose(W))
    return dW, db, dx


def loss_backward(name, pred, y):
    n = len(pred) * len(pred[0])
    scale = 1.0 if BUG == "bce_sum" and name in ("bce", "bce_with_logits") else 1.0 / n
    out = zeros(len(pred), len(pred[0]))
    for i in range(len(pred)):
        for j in range(len(pred[0])):
            p, t = pred[i][j], y[i][j]
            if name == "mse" and BUG in ("mse_sign", "mse_clip"):
                g = (1.0 if p > t else -1.0) if BUG == "mse_sign" else max(-1.0, min(1.0, p - t))
                g /= scale  # unscaled
            elif name == "mse":
                g = (1.0 if BUG == "mse_no_two" else 2.0) * (p - t)
            elif name == "bce":
                g = (p - t) / max(p * (1 - p), 1e-12)
            else:
                g = sigmoid(p) - t
            out[i][j] = g * scale
    return out


def mlp(req):
    X, y, L = req["X"], req["y"], len(req["layers"]) - 1
    W = [req["params"]["W%d" % k] for k in range(1, L + 1)]
    b = [req["params"]["b%d" % k] for k in range(1, L + 1)]
    hs, zs = [X], []
    for k in range(L):
        z = [[v + b[k][j] for j, v in enumerate(row)] for row in matmul(hs[-1], W[k])]
        zs.append(z)
        hs.append(act_forward(req["activations"][k], z))
    answer = {}
    dh = loss_backward(req["loss"], hs[-1], y)
    for k in reversed(range(L)):
        dz = act_backward(req["activations"][k], zs[k], dh)
        dW, db, dx = linear_backward(hs[k], W[k], dz, bias_mean=BUG == "mlp_bias_mean")
        answer["dW%d" % (k + 1)], answer["db%d" % (k + 1)] = dW, db
        answer["dz%d" % (k + 1)], answer["dh%d" % (k + 1)] = dz, dh
        dh = dx
    if BUG == "column_layout":
        answer = {k: transpose(v) if k[:2] in ("dz", "dh") else [[x] for x in v] if k[:2] == "db" else v
                  for k, v in answer.items()}
    return answer


def op(req):
    name = req["op"]
    if name == "linear":
        dW, db, dx = linear_backward(req["x"], req["W"], req["dz"], bias_mean=BUG == "linear_db_mean")
        if BUG == "dx_untransposed":
            dx = [[v * 0.5 for v in row] for row in dx]
        return {"dW": dW, "db": db, "dx": dx}
    if name in ("mse", "bce", "bce_with_logits"):
        return {"dpred": loss_backward(name, req["pred"], req["y"])}
    return {"dz": act_backward(name, req["z"], req["dh"])}


def laid_out(answer, kind):
    if BUG == "column_layout" and kind == "op" and "db" in answer:
        answer["db"] = [[x] for x in answer["db"]]
    if BUG == "misnamed":
        answer = {(k[1:] if kind == "mlp" else "grad_" + k[1:]): v for k, v in answer.items()}
    if BUG == "six_digits":  # printed as C++'s cout does by default: right, but only to 6 digits
        def rounded(v):
            return [rounded(x) for x in v] if isinstance(v, list) else float("%.6g" % v)
        answer = {k: rounded(v) for k, v in answer.items()}
    return answer


request = json.load(sys.stdin)
print("grading request:", request["kind"], file=sys.stderr)  # debugging goes to stderr
json.dump(laid_out(mlp(request) if request["kind"] == "mlp" else op(request), request["kind"]), sys.stdout)
