# @NAME@ %post: create the service user and its state directory, then let a running systemd
# see the new unit. The service is not enabled or started: it needs its configuration first.
# Rendered by scripts/package from packaging/rpm/post.sh, one template for both packages.
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers @NAME@.conf
elif ! getent passwd @NAME@ >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /var/lib/@NAME@ \
            --shell /usr/sbin/nologin --comment "@COMMENT@" @NAME@
    else
        adduser --system --group --quiet --no-create-home \
            --home /var/lib/@NAME@ --gecos "@COMMENT@" @NAME@
    fi
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create @NAME@.conf
else
    install -d -m 0700 -o @NAME@ -g @NAME@ /var/lib/@NAME@
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
