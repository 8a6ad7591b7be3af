#!/usr/bin/env bash
# Install the headless browser the UI screenshot test drives (tests/e2e/test_ui_lineage.py): Debian's
# chromium from apt, driven by the Python playwright package (a dev extra) through its executable path.
# Playwright's own browser download (`playwright install`) is never used: it fetches builds from outside
# the package registries. Idempotent; when it cannot install (not root, no apt) it says why and exits 0,
# and the screenshot test then skips with a message naming this script.
set -uo pipefail

BROWSER="${KALSHI_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$BROWSER" ]; then
    echo "install_browser: $BROWSER is already installed ($("$BROWSER" --version 2>/dev/null | head -n 1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: apt-get is not available; install Chromium yourself and set KALSHI_CHROMIUM" \
         "to its path (the UI screenshot test will be skipped until then)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_browser: not root, so apt-get cannot install chromium; run 'sudo apt-get install chromium'" \
         "(the UI screenshot test will be skipped until then)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
    echo "install_browser: apt-get update failed; the UI screenshot test will be skipped"
    exit 0
fi
if ! apt-get install -y -qq chromium >/dev/null; then
    echo "install_browser: apt-get install chromium failed; the UI screenshot test will be skipped"
    exit 0
fi
echo "install_browser: installed $("$BROWSER" --version 2>/dev/null | head -n 1)"
