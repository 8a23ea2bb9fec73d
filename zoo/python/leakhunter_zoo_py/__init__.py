"""Python leak zoo: real asyncio/threaded services, leaky and benign, serving leakhunter.agent.

Run one as ``python -m leakhunter_zoo_py.NAME -addr 127.0.0.1:0 -duration 60s``
(with ``zoo/python`` on PYTHONPATH); it prints ``listening on HOST:PORT`` once
the agent serves, drives its own load for the duration, then lingers.
"""
