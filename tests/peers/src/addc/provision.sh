# Runs inside the DC's container, once per cached rootfs: installs Samba's AD DC without
# letting the packages start daemons on every address, provisions SEAL.TEST on 127.0.0.70
# only, and creates one account in each state the tests ask the KDC about.
set -eu
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
apt-get update -qq
apt-get install -y -qq --no-install-recommends samba-ad-dc samba-ad-provision krb5-user winbind smbclient ldb-tools >/dev/null
rm -f /usr/sbin/policy-rc.d
systemctl stop smbd nmbd winbind 2>/dev/null || true
systemctl disable smbd nmbd winbind 2>/dev/null || true
systemctl mask smbd nmbd winbind
systemctl unmask samba-ad-dc

echo dc1 > /etc/hostname
hostname dc1
grep -q dc1.seal.test /etc/hosts || echo '127.0.0.70 dc1.seal.test dc1' >> /etc/hosts
systemctl stop samba-ad-dc 2>/dev/null || true
rm -rf /etc/samba/smb.conf /var/lib/samba/private/* /var/lib/samba/sysvol /var/cache/samba/*
samba-tool domain provision --realm=SEAL.TEST --domain=SEAL --server-role=dc \
    --dns-backend=SAMBA_INTERNAL --adminpass="$ADMIN_PASSWORD" --host-name=dc1 \
    --host-ip=127.0.0.70 \
    --option='interfaces = 127.0.0.70/8' --option='bind interfaces only = yes' \
    --option='disable netbios = yes' --option='smb ports = 445' \
    --option='log level = 1 auth_audit:3' >/dev/null
# The switchable settings (NTLM, signing, encryption) live in a file of their own.
: > /etc/samba/sealscan-settings.conf
sed -i '/^\[global\]/a\\tinclude = /etc/samba/sealscan-settings.conf' /etc/samba/smb.conf
# The KDC by address: the host's resolver knows nothing of seal.test.
cat > /etc/krb5.conf <<'KRB5'
[libdefaults]
    default_realm = SEAL.TEST
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
[realms]
    SEAL.TEST = {
        kdc = 127.0.0.70
        admin_server = 127.0.0.70
    }
[domain_realm]
    .seal.test = SEAL.TEST
    seal.test = SEAL.TEST
KRB5

# Passwords never expire (the cached domain outlives the 42-day default); ten bad passwords
# lock an account until an administrator unlocks it; the count of bad ones resets after a
# minute, so the wrong-password account is not locked by a few test runs.
samba-tool domain passwordsettings set --max-pwd-age=0 --account-lockout-threshold=10 \
    --account-lockout-duration=0 --reset-account-lockout-after=1 >/dev/null

for u in scanuser wrongpw disableduser expireduser lockeduser; do
    samba-tool user add "$u" "$USER_PASSWORD" >/dev/null
done
samba-tool user add mustchange "$USER_PASSWORD" --must-change-at-next-login >/dev/null
samba-tool user disable disableduser >/dev/null
samba-tool user setexpiry expireduser --days=0 >/dev/null
systemctl enable samba-ad-dc >/dev/null 2>&1 || true
systemctl start samba-ad-dc
export KRB5CCNAME=FILE:/tmp/provision.ccache
for _ in $(seq 60); do
    printf '%s\n' "$USER_PASSWORD" | kinit scanuser@SEAL.TEST >/dev/null 2>&1 && break
    sleep 0.5
done
# Lock the locked-out account the way a domain does: bad passwords through the KDC.
for _ in $(seq 10); do
    echo not-the-password | kinit lockeduser@SEAL.TEST >/dev/null 2>&1 || true
done
kdestroy >/dev/null 2>&1 || true
