"""A model's logit as an output of its own graph: the same ONNX bytes with the input of the
Sigmoid that makes the served probability added as a second graph output.

Explanations work in logit space, and reading the logit back from the probability does not
do: onnxruntime's Sigmoid is a fast approximation (relative error up to 3e-4 on the CPU) and a
float32 probability is exactly 1.0 above a logit of ~17, so small differences of the logit
drown. The graph computes the logit anyway; exposing it changes nothing else.

The edit is made on the protobuf wire format: the scorer has onnxruntime but not the ``onnx``
package, and the edit needs a few field numbers of onnx.proto (ModelProto.graph = 7,
GraphProto.node = 1 and .output = 12, NodeProto.input = 1, .output = 2, .op_type = 4,
ValueInfoProto.name = 1 and .type = 2). A repeated field may be appended anywhere in its
message, so the new output goes at the end of the graph."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_LEN = 2  # wire type of strings and embedded messages
_SIZES = {1: 8, 5: 4}  # fixed64, fixed32
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_OUTPUT = 7, 1, 12
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE = 1, 2, 4
_FLOAT = 1  # TensorProto.FLOAT


class WireError(ValueError):
    """The bytes are not a protobuf message of the expected shape."""


@dataclass(frozen=True)
class _Field:
    number: int
    wire_type: int
    start: int        # where the field's tag begins
    value_start: int  # where its value begins (after the length, for wire type 2)
    end: int


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes, start: int = 0, end: int | None = None) -> Iterator[_Field]:
    """The top-level fields of the message in ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        tag, value_start = _read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            _, stop = _read_varint(data, value_start)
        elif wire_type == _LEN:
            length, value_start = _read_varint(data, value_start)
            stop = value_start + length
        elif wire_type in _SIZES:
            stop = value_start + _SIZES[wire_type]
        else:
            raise WireError(f"wire type {wire_type} (groups are not used by ONNX)")
        if stop > end:
            raise WireError("a field runs past the end of its message")
        yield _Field(number, wire_type, pos, value_start, stop)
        pos = stop


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def _strings(data: bytes, f: _Field, number: int) -> list[str]:
    return [data[s.value_start:s.end].decode() for s in _fields(data, f.value_start, f.end)
            if s.number == number and s.wire_type == _LEN]


def with_logit_output(onnx_bytes: bytes, output_name: str) -> tuple[bytes, str] | None:
    """``onnx_bytes`` with the logit behind ``output_name`` as one more graph output, and that
    output's name; None when ``output_name`` is not made by a Sigmoid (there is no logit to
    expose). Raises WireError for bytes that are not an ONNX model."""
    graph = next((f for f in _fields(onnx_bytes)
                  if f.number == _MODEL_GRAPH and f.wire_type == _LEN), None)
    if graph is None:
        raise WireError("no graph in the model")
    logit_name, outputs, output_type = None, [], b""
    for f in _fields(onnx_bytes, graph.value_start, graph.end):
        if f.number == _GRAPH_NODE and f.wire_type == _LEN:
            if output_name in _strings(onnx_bytes, f, _NODE_OUTPUT):
                op_types = _strings(onnx_bytes, f, _NODE_OP_TYPE)
                inputs = _strings(onnx_bytes, f, _NODE_INPUT)
                if op_types != ["Sigmoid"] or len(inputs) != 1:
                    return None
                logit_name = inputs[0]
        elif f.number == _GRAPH_OUTPUT and f.wire_type == _LEN:
            parts = {s.number: s for s in _fields(onnx_bytes, f.value_start, f.end)}
            name = onnx_bytes[parts[1].value_start:parts[1].end].decode() if 1 in parts else ""
            outputs.append(name)
            if name == output_name and 2 in parts:
                output_type = onnx_bytes[parts[2].start:parts[2].end]
    if logit_name is None:
        return None
    if logit_name in outputs:
        return onnx_bytes, logit_name
    # A Sigmoid keeps its input's type and shape: the logit's ValueInfoProto is the
    # probability's with another name (a float tensor of unknown shape if it has no type).
    value_info = _message(1, logit_name.encode()) + (
        output_type or _message(2, _message(1, _varint(1 << 3) + _varint(_FLOAT))))
    body = onnx_bytes[graph.value_start:graph.end] + _message(_GRAPH_OUTPUT, value_info)
    return (onnx_bytes[:graph.start] + _message(_MODEL_GRAPH, body) + onnx_bytes[graph.end:],
            logit_name)
