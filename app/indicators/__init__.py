"""Criteria indicators across a unit's communes: how many have a value, how many meet their threshold."""
