"""The converter graph and what runs it: formats, the planner, the run's inputs and key, the cache, the manifest."""
