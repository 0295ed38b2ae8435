"""Small ONNX models for scorer tests, built with onnx.helper: a logistic regression over
named features, registered through the real ModelRegistry, and a network shaped like the
trainer's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT, OUTPUT = "x", "p"


def logistic_onnx(weights: Sequence[float], bias: float, n_inputs: int | None = None) -> bytes:
    """p = sigmoid(x @ w + b), x: float32 [N, n_inputs], p: float32 [N, 1]."""
    n = len(weights) if n_inputs is None else n_inputs
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(-1, 1), "w")
    b = numpy_helper.from_array(np.asarray([bias], np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", [INPUT, "w"], ["z0"]),
         helper.make_node("Add", ["z0", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], [OUTPUT])],
        "logistic",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, n])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, 1])],
        [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def nan_above_onnx(weights: Sequence[float], bias: float, limit: float) -> bytes:
    """Like ``logistic_onnx``, but NaN for every row with an input above ``limit``: a model
    that is fine on the inputs it was tried on and breaks on larger ones."""
    n = len(weights)
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(-1, 1), "w")
    b = numpy_helper.from_array(np.asarray([bias], np.float32), "b")
    top = numpy_helper.from_array(np.asarray([limit], np.float32), "limit")
    nan = numpy_helper.from_array(np.asarray([np.nan], np.float32), "nan")
    half = numpy_helper.from_array(np.asarray([0.5], np.float32), "half")
    graph = helper.make_graph(
        [helper.make_node("MatMul", [INPUT, "w"], ["z0"]),
         helper.make_node("Add", ["z0", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["p0"]),
         helper.make_node("Greater", [INPUT, "limit"], ["above"]),
         helper.make_node("Cast", ["above"], ["above_f"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMax", ["above_f"], ["any_f"], axes=[1], keepdims=1),
         helper.make_node("Greater", ["any_f", "half"], ["any"]),
         helper.make_node("Where", ["any", "nan", "p0"], [OUTPUT])],
        "nan_above",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, n])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, 1])],
        [w, b, top, nan, half])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def metadata(features: Sequence[str], threshold: float = 0.5) -> dict[str, object]:
    return {"features": list(features), "input_name": INPUT, "output_name": OUTPUT,
            "threshold": threshold}


def mlp_onnx(n_inputs: int, hidden: Sequence[int] = (64, 64), seed: int = 0,
             mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
             clip: float = 5.0) -> bytes:
    """A network shaped like the trainer's ScoringMLP, seeded: ``sign(x) * log(1 + |x|)``,
    standardised by ``mean`` / ``std`` (default 1 / 1.5 everywhere), clipped to ``clip``,
    ReLU layers of ``hidden`` widths, one logit, a Sigmoid. x: float32 [N, n_inputs], p:
    float32 [N, 1]."""
    rng = np.random.default_rng(seed)
    mu = np.full(n_inputs, 1.0) if mean is None else np.asarray(mean)
    sd = np.full(n_inputs, 1.5) if std is None else np.asarray(std)
    inits = [numpy_helper.from_array(np.asarray(v, np.float32).reshape(shape), name)
             for name, v, shape in (("one", [1.0], (1,)), ("mean", mu, (n_inputs,)),
                                    ("std", sd, (n_inputs,)), ("low", [-clip], ()),
                                    ("high", [clip], ()))]
    nodes = [helper.make_node("Abs", [INPUT], ["a"]),
             helper.make_node("Add", ["a", "one"], ["a1"]),
             helper.make_node("Log", ["a1"], ["l"]),
             helper.make_node("Sign", [INPUT], ["s"]),
             helper.make_node("Mul", ["s", "l"], ["q"]),
             helper.make_node("Sub", ["q", "mean"], ["c"]),
             helper.make_node("Div", ["c", "std"], ["z"]),
             helper.make_node("Clip", ["z", "low", "high"], ["h0"])]
    width, previous = n_inputs, "h0"
    for i, h in enumerate([*hidden, 1]):
        w = rng.normal(0.0, 1.0 / np.sqrt(width), size=(width, h))
        b = rng.normal(0.0, 0.1, size=h)
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [previous, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"y{i}"])]
        if i < len(hidden):
            nodes.append(helper.make_node("Relu", [f"y{i}"], [f"h{i + 1}"]))
            previous = f"h{i + 1}"
        else:
            nodes.append(helper.make_node("Sigmoid", [f"y{i}"], [OUTPUT]))
        width = h
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, n_inputs])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
