# sealscan-control %postun: the unit file is gone or replaced; a running systemd reloads. State in
# /var/lib/sealscan-control is kept (RPM has no purge): remove it by hand to forget this installation.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    # An upgrade ($1 >= 1: a version is still installed) replaced the binary under a running
    # daemon: restart it so the new build runs; a stopped service stays stopped.
    if [ "$1" -ge 1 ]; then
        systemctl try-restart sealscan-control.service >/dev/null 2>&1 || :
    fi
fi
