"""Given: the runner the grader starts. It loads your backprop.py (or the notebook you hand in),
reads one JSON request from stdin, calls your functions, and prints one JSON answer to stdout
(the protocol: gradverify's docs/grading.md). Print any debugging output to stderr: stdout
is the answer.

    python3 runner.py backprop.py < request.json
    python3 runner.py lab.ipynb < request.json
    python3 runner.py --check lab.ipynb      # does it parse, and define every function? (runs nothing)

Only definitions are taken from your file: imports of installed modules, functions, classes
(with the same taken from their bodies) and assignments of plain values (EPS = 1e-12). Every
other statement is left out, in a .py and in every notebook cell: training loops, plots and
prints don't run, and cost the grader no time. A notebook's code cells are read in order;
IPython's %magics and !commands are skipped.
"""
import ast
import importlib.util
import json
import os
import sys
import types

import numpy as np

KIT_FUNCTIONS = ["relu_backward", "sigmoid_backward", "tanh_backward", "identity_backward", "linear_backward",
                 "mse_backward", "bce_backward", "bce_with_logits_backward", "mlp_backward",
                 "leaky_relu_backward", "cross_entropy_backward"]
# Only mlp_backward must be there: every other function is looked up by the cases that need
# it, so a first-lab submission (without the next lab's functions) and a next-lab one (without
# the first lab's losses) are each graded on what their rubric asks.
REQUIRED_FUNCTIONS = ["mlp_backward"]


class SubmissionError(Exception):
    """What is wrong with the submission itself, said to the student."""


def code_cells(path):
    """A notebook's code cells as (name, source), or the .py file as one."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise SubmissionError("cannot read %s: %s" % (path, e.strerror))
    if not path.endswith(".ipynb"):
        return [(path, text)]
    try:
        notebook = json.loads(text)
        cells = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SubmissionError("%s is not a Jupyter notebook (expected its JSON, with \"cells\")" % path)
    sources = []
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        # IPython's line magics and shell escapes are not Python; they are left out.
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
        sources.append(("%s, code cell %d" % (path, number), "\n".join(lines)))
    return sources


def is_plain_value(node):
    """An expression without calls, lambdas or comprehensions: cheap, and with no effects."""
    banned = (ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Await,
              ast.Yield, ast.YieldFrom, ast.NamedExpr)
    return not any(isinstance(n, banned) for n in ast.walk(node))


def importable(name, submission_dir):
    """An installed module, or the kit's forward.py: never the submission itself (which would
    run all of it) nor another file beside it."""
    spec = importlib.util.find_spec(name.split(".")[0])
    if spec is None:
        return False
    origin = os.path.dirname(os.path.abspath(spec.origin)) if spec.origin else ""
    return name == "forward" or origin != submission_dir


def definitions(body, submission_dir):
    """The statements kept: imports of installed modules, definitions and plain assignments. A
    class keeps the same of its body (a loop in a class body would run when the class does)."""
    kept = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kept.append(node)
        elif isinstance(node, ast.ClassDef):
            node.body = definitions(node.body, submission_dir) or [ast.Pass()]
            kept.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            # A module the grader doesn't have (matplotlib, say) serves plotting, not gradients.
            if all(n and importable(n, submission_dir) for n in names):
                kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and is_plain_value(node.value):
            kept.append(node)
    return kept


def parsed_definitions(path):
    """Each cell's kept statements, as (name, module), without running any of them."""
    parsed = []
    submission_dir = os.path.dirname(os.path.abspath(path))
    for name, source in code_cells(path):
        try:
            tree = ast.parse(source, filename=name)
        except SyntaxError as e:
            raise SubmissionError("%s: line %s: %s" % (name, e.lineno, e.msg))
        module = ast.fix_missing_locations(ast.Module(body=definitions(tree.body, submission_dir), type_ignores=[]))
        parsed.append((name, module))
    return parsed


def defined_names(parsed):
    names = set()
    for _, module in parsed:
        for node in module.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            else:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def check_submission(path):
    """What the grader checks before any case runs, statically: nothing of the file is run
    outside the grader's sandbox (a decorator or a default value runs when its def does)."""
    parsed = parsed_definitions(path)
    missing = [f for f in REQUIRED_FUNCTIONS if f not in defined_names(parsed)]
    if missing:
        raise SubmissionError("%s does not define %s (the kit's functions, as backprop.py names them)" %
                              (path, ", ".join(missing)))
    return parsed


def load_submission(path):
    module = types.ModuleType("submission")
    module.__file__ = path
    for name, definitions_only in check_submission(path):
        exec(compile(definitions_only, name, "exec"), module.__dict__)  # see definitions()
    return module


def array(value):
    return np.asarray(value, dtype=np.float64)


def as_list(name, value):
    """An answer's array as JSON's lists; what is not one is said, naming it."""
    if value is None:
        raise SubmissionError("%s is None: the function that computes it returned nothing (a missing return?)" % name)
    try:
        return np.asarray(value, dtype=np.float64).tolist()
    except (TypeError, ValueError):
        raise SubmissionError("%s is a %s, not an array of numbers (a tuple of several results, where one array "
                              "was expected?)" % (name, type(value).__name__))


def function(lab, name):
    if not hasattr(lab, name):
        raise SubmissionError("%s does not define %s, which this case needs (see the kit's backprop.py)" %
                              (lab.__file__, name))
    return getattr(lab, name)


def answer_op(lab, request):
    op = request["op"]
    backward = function(lab, op + "_backward")
    if op == "linear":
        answer = backward(array(request["x"]), array(request["W"]), array(request["dz"]))
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            raise SubmissionError("linear_backward returned %s; it returns (dW, db, dx)" % type(answer).__name__)
        return dict(zip(["dW", "db", "dx"], answer))
    if op in ("mse", "bce", "bce_with_logits"):
        return {"dpred": backward(array(request["pred"]), array(request["y"]))}
    if op == "cross_entropy":
        return {"dlogits": backward(array(request["logits"]), array(request["y"]))}
    if op == "leaky_relu":
        return {"dz": backward(array(request["z"]), array(request["dh"]), request["negative_slope"])}
    return {"dz": backward(array(request["z"]), array(request["dh"]))}


def answer_mlp(lab, request):
    params = {name: array(value) for name, value in request["params"].items()}
    # "leaky_relu:0.2" is leaky_relu with its slope, one for the whole net. The next lab's
    # arguments are passed only when the net has them, so a first-lab mlp_backward(params,
    # activations, loss, X, y) still answers the first lab's nets.
    activations, extra = [], {}
    for name in request["activations"]:
        name, _, slope = name.partition(":")
        activations.append(name)
        if name == "leaky_relu":
            extra["negative_slope"] = float(slope) if slope else 0.01
    if request.get("weight_decay", 0):
        extra["weight_decay"] = request["weight_decay"]
    return lab.mlp_backward(params, activations, request["loss"], array(request["X"]), array(request["y"]), **extra)


def main(argv):
    check = len(argv) == 3 and argv[1] == "--check"
    if len(argv) != 2 and not check:
        print("usage: python3 runner.py [--check] backprop.py|notebook.ipynb < request.json", file=sys.stderr)
        return 2
    try:
        if check:
            defined = defined_names(check_submission(argv[-1]))
            missing = [f for f in KIT_FUNCTIONS if f not in defined]
            print("%s defines every function of the kit" % argv[-1] if not missing else
                  "%s defines mlp_backward, but not %s: a case that needs one of those will say so" %
                  (argv[-1], ", ".join(missing)))
            return 0
        lab = load_submission(argv[-1])
        request = json.load(sys.stdin)
        answer = answer_mlp(lab, request) if request["kind"] == "mlp" else answer_op(lab, request)
        if not isinstance(answer, dict):
            raise SubmissionError("mlp_backward returned a %s; it returns a dict {\"dW1\": ..., \"db1\": ...}" %
                                  type(answer).__name__)
        printed = json.dumps({name: as_list(name, value) for name, value in answer.items()})
    except SubmissionError as e:
        print("runner: %s" % e, file=sys.stderr)
        return 1
    print(printed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
