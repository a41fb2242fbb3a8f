"""The backbone networks: the EfficientNet-Lite family in Keras, its checkpoints, and the other backbones `train` takes."""
