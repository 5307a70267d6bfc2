# sealscan-agent %postun: the unit file is gone or replaced; a running systemd reloads. State in
# /var/lib/sealscan-agent is kept (RPM has no purge): remove it by hand to forget this installation.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
