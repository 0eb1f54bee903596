"""The node: the service around the pure core (store, keys, ingest; the mesh later)."""
