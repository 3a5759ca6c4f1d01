"""The ONNX model as served and scored: loading with a sha256 check (runtime), the input contract (inputs),
category codes and parity checks between scikit-learn and onnxruntime. Named onnxmodel so it never shadows
the onnx package.
"""
