"""The gateway's use cases: each module is one thing that happens, read top to bottom.

A flow spans domains (a case, its task, the SLA timers, the notices); the domain
packages below it hold models, queries and pure logic and never import a flow.
See docs/architecture.md for the floors and where a new use case goes.
"""
