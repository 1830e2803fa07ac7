"""The pure core: values in, values out.

Nothing under ``worker.core`` imports httpx, redis, celery or reads the environment or the wall
clock; ``tests/test_core_purity.py`` checks it. The clock is always passed in as ``now`` (a Unix
timestamp in seconds).
"""
