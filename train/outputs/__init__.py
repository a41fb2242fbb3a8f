"""What `train` leaves in a model folder: the evaluation, the report page and its plots, the SavedModel, ONNX and TFLite."""
