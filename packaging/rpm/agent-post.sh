# sealscan-agent %post: create the service user and its state directory, then let a running systemd
# see the new unit. The service is not enabled or started: it needs its configuration first.
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers sealscan-agent.conf
elif ! getent passwd sealscan-agent >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /var/lib/sealscan-agent \
            --shell /usr/sbin/nologin --comment "sealscan scanner-appliance agent" sealscan-agent
    else
        adduser --system --group --quiet --no-create-home \
            --home /var/lib/sealscan-agent --gecos "sealscan scanner-appliance agent" sealscan-agent
    fi
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create sealscan-agent.conf
else
    install -d -m 0700 -o sealscan-agent -g sealscan-agent /var/lib/sealscan-agent
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
