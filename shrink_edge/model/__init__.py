"""The user's model and data: where a model comes from, its named inputs and outputs, data files, checkpoints, the bundled sample."""
