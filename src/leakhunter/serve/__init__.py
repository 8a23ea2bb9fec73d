"""Continuous monitoring: ``leakhunter serve`` watches many targets and exports verdicts.

Layout: ``targets`` (what a target is), ``discovery`` (file_sd, http_sd; the
group parser in ``target_groups``), ``kubernetes`` and ``kubeconfig`` (pod
discovery), ``store`` (SQLite state), ``worker`` (one target: scrape, fold,
capture evidence), ``scheduler`` (due times with jitter, a bounded pool),
``retention`` (thinning, expiry, the disk budget), ``metrics`` (the Prometheus
collector), ``api`` and ``pages`` (the ASGI app), ``notify`` (webhooks),
``pyroscope`` and ``pyroscope_wire`` (optional push of the profiles to Grafana
Pyroscope), ``server`` (process wiring: uvicorn, signals).
"""
