"""Serving a build with its rules and challenger builds in shadow, and logging every request.

app.py (Starlette app over an explicit ServeState), shadow.py (the off-request-path worker),
log.py (the SQLite request log), server.py (assembling and running a service), replay.py (the same
comparison offline over a file of requests).
"""
