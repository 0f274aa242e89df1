"""The sticky-sessions policy pack (`pulumi up --policy-pack policy`); its rules are in rules.py."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(
    name="sticky-sessions",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
