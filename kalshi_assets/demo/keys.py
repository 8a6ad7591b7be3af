"""The demo exchange's published API key pair.

This key is public on purpose (it ships with the package) and only opens the loopback demo server;
it is not a secret and must never be registered with Kalshi.
"""

from __future__ import annotations

from importlib import resources

DEMO_API_KEY_ID = "00000000-demo-4000-8000-kalshiassets"


def demo_key_pair() -> tuple[bytes, bytes]:
    """(private key PEM, public key PEM) of the demo server's API key."""
    folder = resources.files("kalshi_assets.demo")
    return (folder / "demo_key.pem").read_bytes(), (folder / "demo_key.pub.pem").read_bytes()
