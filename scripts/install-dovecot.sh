#!/usr/bin/env bash
# Installs Dovecot's IMAP server from Debian's packages for the pixbridge-imap tests and benchmark.
#
# Idempotent: does nothing when `dovecot` is already on PATH (or in /usr/sbin). Runs
# `apt-get update` only when the package is not known to apt yet. The system service is never
# started: policy-rc.d refuses service starts during the install, and the tests run their own
# `dovecot -F -c <tmp conf>` on a loopback port.
set -euo pipefail

if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-dovecot: apt-get not found; install Dovecot (package dovecot-imapd) by hand" >&2
    exit 1
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-dovecot: must run as root to apt-get install dovecot-imapd" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the package's maintainer scripts from starting the system-wide dovecot service.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
cleanup() { [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; true; }
trap cleanup EXIT

if ! apt-cache show dovecot-imapd >/dev/null 2>&1; then
    apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null

# Some images start it anyway (no policy-rc.d honoured): stop the system service, ours is separate.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dovecot 2>/dev/null; then
    systemctl stop dovecot || true
fi
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || {
    echo "install-dovecot: dovecot-imapd installed but no dovecot binary found" >&2
    exit 1
}
