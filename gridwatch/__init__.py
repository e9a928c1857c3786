"""The composition root: the ``gridwatch`` command line and the demo.

The only package that imports edge, gateway and cloud_api together; each of
those stays independent of the others (data flows edge → contracts → gateway
→ store → API).
"""
