"""The logit exposed as a second output of a model's own graph, by a protobuf wire edit that
onnx itself must read back as the same model plus one output."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from services.scorer.logit_output import WireError, with_logit_output
from tests.unit.scorer.onnx_factory import (
    INPUT,
    OUTPUT,
    logistic_onnx,
    mlp_onnx,
    nan_above_onnx,
)


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_the_sigmoid_input_becomes_an_output_and_nothing_else_changes() -> None:
    original = logistic_onnx([0.5, -1.0, 0.25], -1.5)
    exposed = with_logit_output(original, OUTPUT)
    assert exposed is not None
    data, name = exposed
    assert name == "z"
    edited, before = onnx.load_from_string(data), onnx.load_from_string(original)
    onnx.checker.check_model(edited)
    assert [o.name for o in edited.graph.output] == [OUTPUT, "z"]
    assert edited.graph.output[1].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert list(edited.graph.node) == list(before.graph.node)
    assert list(edited.graph.initializer) == list(before.graph.initializer)
    x = np.asarray([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0], [-3.0, 0.5, 8.0]], np.float32)
    p, z = session(data).run([OUTPUT, "z"], {INPUT: x})
    assert np.array_equal(p, session(original).run([OUTPUT], {INPUT: x})[0])
    assert z.reshape(-1).tolist() == [-2.0, -1.5, -1.5]  # x @ w + b, exact in float32


def test_a_network_exposes_its_last_layer() -> None:
    data, name = with_logit_output(mlp_onnx(6, (8, 4)), OUTPUT) or (b"", "")
    assert name == "y2"  # the last Add, before the Sigmoid
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    p, z = session(data).run([OUTPUT, name], {INPUT: x})
    assert np.allclose(1 / (1 + np.exp(-z.astype(np.float64))), p, rtol=1e-3)


def test_an_output_not_made_by_a_sigmoid_has_no_logit() -> None:
    assert with_logit_output(nan_above_onnx([1.0, 1.0], 0.0, 10.0), OUTPUT) is None
    assert with_logit_output(logistic_onnx([1.0], 0.0), "z") is None  # made by an Add
    assert with_logit_output(logistic_onnx([1.0], 0.0), "no such output") is None


def test_an_already_exposed_logit_is_left_as_it_is() -> None:
    data, _ = with_logit_output(logistic_onnx([1.0], 0.0), OUTPUT) or (b"", "")
    assert with_logit_output(data, OUTPUT) == (data, "z")


HALF = logistic_onnx([1.0], 0.0)[:70]


@pytest.mark.parametrize("data", [b"not onnx at all", HALF, b"",
                                  b"\x3a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"])
def test_bytes_that_are_no_onnx_model_are_refused(data: bytes) -> None:
    with pytest.raises(WireError):
        with_logit_output(data, OUTPUT)
