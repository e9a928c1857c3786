"""Escalation up the tiers: grid leader, community, street centre, department (网格吹哨、部门报到)."""
