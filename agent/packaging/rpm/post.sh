# %post of the vigie-agent .rpm: an empty token file (kept as it is on upgrades), the state
# folder, and the service enabled on first install. It starts once the token is not empty.
chown root:vigie /etc/vigie
chmod 0750 /etc/vigie
if [ ! -e /etc/vigie/token ]; then
    install -o vigie -g vigie -m 0600 /dev/null /etc/vigie/token
fi
install -d -o vigie -g vigie -m 0700 /var/lib/vigie
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    systemctl enable vigie-agent.service >/dev/null 2>&1 || true
fi
