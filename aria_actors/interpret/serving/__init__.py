"""Recommendation scoring: in the service's process (local) or on Ray Serve replicas (serve)."""
