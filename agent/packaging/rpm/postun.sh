# %postun of the vigie-agent .rpm: reload systemd; on upgrade, restart a running service.
# The configuration (%config(noreplace)), the token and /var/lib/vigie are kept on erase:
# remove /etc/vigie, /var/lib/vigie and the user vigie by hand to leave no trace.
if command -v systemctl >/dev/null; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    if [ "$1" -ge 1 ]; then
        systemctl try-restart vigie-agent.service >/dev/null 2>&1 || true
    fi
fi
