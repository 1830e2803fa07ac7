"""A claiming process for tests/test_claim_processes.py: what a worker's tick and polls do, in a
loop: claim due feeds with the real Lua claim, poll each with the real ``poll_by_id``, until the
stop file appears. Prints how many polls it ran, as one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time

from worker.config import load_settings
from worker.core.match import Rule
from worker.poll import Runtime, poll_by_id


def main(stop_file: str, batch: int) -> int:
    settings = load_settings()
    rt = Runtime.build(settings, [Rule.from_query("r", "إيران")])
    polled = 0
    try:
        while not os.path.exists(stop_file):
            due = rt.state.claim_due(time.time(), settings.poll_lease, batch)
            for feed_id in due:
                if poll_by_id(rt, feed_id) is not None:
                    polled += 1
            if not due:
                time.sleep(0.01)
    finally:
        rt.close()
    print(json.dumps({"pid": os.getpid(), "polled": polled}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
