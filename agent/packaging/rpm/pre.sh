# %pre of the vigie-agent .rpm: the user the service runs as (its files are owned by it).
if ! getent passwd vigie >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/vigie --no-create-home \
        --shell /sbin/nologin --comment "Vigie agent" vigie
fi
