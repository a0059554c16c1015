"""Routing, pure: the rule set as data (`rules`), the text as the rules read it (`normalise`), the decision
turned into the ComplaintAssigned event (`assignment`), and the rule set in force, reloaded on change
(`live_ruleset`). No database, no broker, no clock: the moment is passed in."""
