"""The demo's sources, rules and entities files, as text (written to the demo's own directory)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from worker.demo.replay import DemoFeed

# The rules the demo watches for: the seed's Iran-Pakistan rule, and rules on entities (every
# country is built in, with its Arabic, Persian, Urdu, English and French names and adjectives),
# so alerts come from Arabic and Persian feeds alike.
RULES_YAML = """\
# marsad demo: the rules the demo's workers match (written by `marsad demo`).
- id: iran-pakistan
  name: Iran and Pakistan
  query: إيران AND باكستان
- id: iran
  name: Iran, in Arabic or Persian (إيران, ایران, الإيرانية ...)
  query: entity:IR
- id: us-iran
  name: The United States near Iran
  query: entity:US NEAR/15 entity:IR
- id: levant
  name: Lebanon or Syria
  query: entity:LB OR entity:SY
- id: hezbollah-israel
  name: Hezbollah and Israel
  query: entity:hezbollah AND entity:IL
- id: tunisia
  name: Tunisia
  query: entity:TN
"""

ENTITIES_YAML = """\
# marsad demo: one entity of the demo's own, beside the built-in countries.
- id: hezbollah
  names:
    ar: حزب الله
    fa: حزب‌الله
    en: Hezbollah
"""


def sources_yaml(feeds: Iterable[DemoFeed], url_of: Callable[[str], str], interval: tuple[str, str, str]) -> str:
    """sources.yaml for the demo feeds, polled every ``interval`` = (start, min, max): the
    adaptive schedule stays within the bounds. Values are written as JSON strings, which YAML
    reads as they are."""
    start, low, high = interval
    lines = ["# marsad demo: the replay server's feeds (written by `marsad demo`)."]
    for feed in feeds:
        lines += [
            f"- id: {feed.id}",
            f"  url: {json.dumps(url_of(feed.id))}",
            f"  language: {feed.language}",
            f"  interval: {start}",
            f"  min_interval: {low}",
            f"  max_interval: {high}",
        ]
        if feed.full_text:
            lines.append("  full_text: true")
    return "\n".join(lines) + "\n"
