"""Fine-tuning: the loop, the step of `train` that runs it, its image batches, temperature scaling and the warm start."""
