"""Throughput benchmarks against a real server and the local stack (never timed unit tests)."""
