"""Operations: readiness (``/api/ready``), Prometheus metrics (``/metrics``), backups and restore.

Nothing here imports aiohttp or ``evaluation_hub.api``: the HTTP shells live in
``evaluation_hub/api/ops.py`` and hand these modules plain data.
"""
