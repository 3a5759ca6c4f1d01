"""OpenAPI request/response schemas and examples generated from the model's input schema.

Routes parse raw bytes themselves (orjson, no per-field pydantic validation) for
speed; these JSON schemas only document the API at /docs and drive fuzzing.
"""

from __future__ import annotations

from typing import Any

from mlctl.onnxmodel.runtime import InputSpec

# the smallest float64 that rounds to an infinite float32 (2^128 - 2^103): below it a number is finite
FLOAT32_LIMIT = 2.0**128 - 2.0**103
V2_DATATYPES = [
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]


def example_instance(inputs: list[InputSpec]) -> dict[str, Any]:
    """A realistic instance: numeric features mid-range, categorical features their first category."""
    example: dict[str, Any] = {}
    for spec in inputs:
        if spec.kind == "numeric":
            lo, hi = spec.min, spec.max
            mid = (lo + hi) / 2 if lo is not None and hi is not None else (lo if lo is not None else 0.0)
            example[spec.name] = round(float(mid), 4)
        else:
            example[spec.name] = spec.categories[0] if spec.categories else None
    return example


def feature_schema(spec: InputSpec, unknown: str) -> dict:
    """JSON schema of one feature's value."""
    if spec.kind == "numeric":
        # the model computes in float32: larger magnitudes would be infinite
        number = {"type": "number", "exclusiveMinimum": -FLOAT32_LIMIT, "exclusiveMaximum": FLOAT32_LIMIT}
        schema: dict[str, Any] = {"anyOf": [number, {"type": "boolean"}]}  # true/false score as 1/0
        if spec.min is not None and spec.max is not None:
            schema["description"] = f"seen in training: {spec.min:g} to {spec.max:g}"
    else:
        schema = {"type": "string"}
        if not spec.nullable:
            schema["minLength"] = 1  # "" is how a missing category is written
        if spec.categories is not None and unknown == "reject":
            schema["enum"] = list(spec.categories)
        elif spec.categories is not None:
            schema["description"] = "known: " + ", ".join(spec.categories[:20]) + "; others are encoded as all zeros"
    if spec.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def name_paths(schema: dict, model_name: str) -> dict:
    """The OpenAPI schema with the V2 ``model_name`` path parameter limited to the served model's name."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") == "path" and param.get("name") == "model_name":
                    param["schema"] = {**param.get("schema", {}), "enum": [model_name]}
    return schema


def instance_schema(inputs: list[InputSpec], unknown: str, extra: str = "reject") -> dict:
    return {
        "type": "object",
        "properties": {s.name: feature_schema(s, unknown) for s in inputs},
        "required": [s.name for s in inputs],
        "additionalProperties": extra == "ignore",
    }


def predict_body(inputs: list[InputSpec], unknown: str, max_rows: int, extra: str = "reject") -> dict:
    """openapi_extra for POST /predict."""
    example = example_instance(inputs)
    schema = {
        "type": "object",
        "required": ["instances"],
        "properties": {
            "instances": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": instance_schema(inputs, unknown, extra),
            }
        },
    }
    return _body(schema, {"instances": [example]})


def invocations_body(inputs: list[InputSpec], unknown: str, max_rows: int) -> dict:
    """openapi_extra for POST /invocations (MLflow scoring protocol; text/csv is accepted too)."""
    example = example_instance(inputs)
    names = [s.name for s in inputs]
    record = instance_schema(inputs, unknown, "ignore")  # as MLflow: columns without an input are ignored
    rows = {"type": "array", "minItems": 1, "maxItems": max_rows}
    schema = {
        "oneOf": [
            {
                "type": "object",
                "required": ["dataframe_split"],
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "required": ["columns", "data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {**rows, "items": {"type": "array"}},
                        },
                    }
                },
            },
            {
                "type": "object",
                "required": ["dataframe_records"],
                "properties": {"dataframe_records": {**rows, "items": record}},
            },
            {"type": "object", "required": ["instances"], "properties": {"instances": {**rows, "items": record}}},
            {"type": "object", "required": ["inputs"], "properties": {"inputs": {**rows, "items": record}}},
        ]
    }
    split = {"dataframe_split": {"columns": names, "data": [[example[n] for n in names]]}}
    body = _body(schema, split)
    body["requestBody"]["content"]["application/json"]["examples"] = {
        "dataframe_split": {"value": split},
        "dataframe_records": {"value": {"dataframe_records": [example]}},
        "instances": {"value": {"instances": [example]}},
    }
    del body["requestBody"]["content"]["application/json"]["example"]
    return body


def v2_infer_body(inputs: list[InputSpec], outputs: list[str]) -> dict:
    """openapi_extra for the Open Inference Protocol infer routes (JSON layout)."""
    example = example_instance(inputs)
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "shape": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": V2_DATATYPES},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
    }
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "minItems": 1, "items": tensor},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "enum": outputs}, "parameters": {"type": "object"}},
                },
            },
        },
    }
    tensors = [
        {
            "name": s.name,
            "shape": [1, 1],
            "datatype": "FP32" if s.kind == "numeric" else "BYTES",
            "data": [example[s.name] if example[s.name] is not None else ""],
        }
        for s in inputs
    ]
    return _body(schema, {"inputs": tensors})


def _body(schema: dict, example: Any) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}}


DETAIL = {
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {"type": "object", "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}}},
                },
            ]
        }
    },
}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}


def responses(ok: dict | None = None, error: dict = DETAIL, codes: tuple[int, ...] = (400, 413, 422)) -> dict:
    """The documented responses of a prediction route."""
    out: dict[Any, Any] = {
        code: {"description": "rejected request", "content": {"application/json": {"schema": error}}} for code in codes
    }
    if ok is not None:
        out[200] = {"description": "predictions", "content": {"application/json": {"schema": ok}}}
    return out


PREDICT_OK = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array"},
        "probabilities": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}},
        "model_version": {"type": "string"},
        "ignored_fields": {"type": "array", "items": {"type": "string"}},
    },
}


def text(description: str) -> dict:
    """A documented 200 answer in plain text."""
    return {200: {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}}
