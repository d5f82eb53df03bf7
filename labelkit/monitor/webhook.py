"""An optional webhook: the alerts of the latest run POSTed as JSON (standard library only)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from labelkit.errors import ConfigError


def post_alerts(url: str, payload: dict, *, timeout: float = 10.0) -> int:
    """POST `payload` as JSON to `url`; returns the HTTP status. Failure raises a one-line error."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--webhook {url!r}: give an http:// or https:// URL.")
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "labelkit-monitor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"--webhook {url}: the receiver answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"--webhook {url}: cannot deliver ({getattr(exc, 'reason', exc)}).") from None
