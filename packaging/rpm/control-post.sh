# sealscan-control %post: create the service user and its state directory, then let a running systemd
# see the new unit. The service is not enabled or started: it needs its configuration first.
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers sealscan-control.conf
elif ! getent passwd sealscan-control >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /var/lib/sealscan-control \
            --shell /usr/sbin/nologin --comment "sealscan control plane" sealscan-control
    else
        adduser --system --group --quiet --no-create-home \
            --home /var/lib/sealscan-control --gecos "sealscan control plane" sealscan-control
    fi
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create sealscan-control.conf
else
    install -d -m 0700 -o sealscan-control -g sealscan-control /var/lib/sealscan-control
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
