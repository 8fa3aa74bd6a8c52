# %preun of the vigie-agent .rpm: on erase (not upgrade), stop and disable the service.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null; then
    systemctl disable --now vigie-agent.service >/dev/null 2>&1 || true
fi
