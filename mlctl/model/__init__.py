"""The model layer: the canonical model-input frame (features), the estimator catalogue and the metrics.
scikit-learn objects in, numbers out.
"""
