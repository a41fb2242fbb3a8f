"""Feature vectors per photo: the cache that keeps them across runs, their extraction, and importing them from shards."""
