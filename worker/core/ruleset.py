"""A rule set: the rules and the entities they may name, validated together, ready to compile.

The rules and the user entities arrive as *text* (from files, or from the live rule set in
Redis), so the same function validates ``marsad rules load``, ``marsad run`` at start and a
worker picking up a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from worker.core.configfile import load_rules
from worker.core.entities import builtin_entities, load_entities, merge, surfaces
from worker.core.match import Matcher, Rule


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    entities: Mapping[str, tuple[str, ...]]  # id -> every name and form, as written
    version: int
    rules_text: str
    entities_text: str
    entities_path: str

    def matcher(self) -> Matcher:
        return Matcher(self.rules, self.entities, self.version)


def build_ruleset(
    rules_text: str, rules_path: str, entities_text: str = "", entities_path: str = "", version: int = 0
) -> RuleSet:
    """Validate and assemble; raises ConfigError listing every problem of both files."""
    user = load_entities(entities_text, entities_path) if entities_text.strip() else {}
    entities = {eid: surfaces(e) for eid, e in merge(builtin_entities(), user).items()}
    rules = load_rules(rules_text, rules_path, entity_ids=entities.keys())
    return RuleSet(tuple(rules), entities, version, rules_text, entities_text, entities_path)
