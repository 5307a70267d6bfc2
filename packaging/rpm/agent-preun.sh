# sealscan-agent %preun: on the last removal (not an upgrade), stop and disable the daemon.
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now sealscan-agent.service >/dev/null 2>&1 || :
    elif command -v systemctl >/dev/null 2>&1; then
        systemctl --no-reload disable sealscan-agent.service >/dev/null 2>&1 || :
    fi
fi
