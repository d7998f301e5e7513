"""The drain side of PlexSync: the one drain loop, its thread, the detached drainer process,
per-job error policy, backoff and the circuit breaker.

Kept empty on purpose so `python -m worker` and `import worker.backoff` load nothing heavy.
"""
