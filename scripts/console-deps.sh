#!/usr/bin/env bash
# Installs what the console's browser test needs, when it is missing:
# the npm packages of console/ (npm ci, from package-lock.json) and
# Debian's chromium at /usr/bin/chromium (apt-get; run as root in CI).
# Safe to run again: it does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/../console"

need() { command -v "$1" >/dev/null 2>&1; }
need node && need npm || { echo "console-deps: Node.js 20+ and npm are required" >&2; exit 1; }

if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "console-deps: npm ci in console/"
	npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x /usr/bin/chromium ]; then
	echo "console-deps: installing Debian's chromium"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true # (its Debian wrapper may print a harmless shell warning)
