#!/bin/sh
# The BMC configuration a Warewulf node does at boot (its wwinit overlay's IPMI step), for
# pybmc's end-to-end tests: every command goes through /dev/ipmi0 with ipmitool's default
# (open) interface, in the order Warewulf's script sends them, each guarded by a read-back of
# `lan print 1` / `ipmitool -c user list 1` as that script does. Written for pybmc from those facts; it is
# not Warewulf's script.
#
# Reads WWIPMI_IPADDR WWIPMI_NETMASK WWIPMI_GATEWAY WWIPMI_VLAN (a VLAN ID or "off")
# WWIPMI_USER WWIPMI_PASSWORD and SOL_SPEED (kbps: 19.2, 38.4, 115.2) from /etc/wwipmi.conf. Prints "WW <name> rc=<exit status>" for every command it runs,
# "WW-FAIL <name>: <output>" when one fails, and at the end
#   WWIPMI-DONE failed=<n> changed=<what changed, comma-separated>
. /etc/wwipmi.conf

FAILED=0
CHANGED=""

run() {
    name=$1
    shift
    started=$(cut -d' ' -f1 /proc/uptime)
    "$@" >/tmp/ww.out 2>&1
    rc=$?
    echo "WW $name rc=$rc secs=$(echo "$(cut -d' ' -f1 /proc/uptime) $started" | awk '{printf "%.2f", $1 - $2}')"
    if [ "$rc" -ne 0 ]; then
        echo "WW-FAIL $name: $(tr '\n' ' ' </tmp/ww.out | cut -c1-300)"
        FAILED=$((FAILED + 1))
    fi
    return "$rc"
}

changed() { CHANGED="$CHANGED${CHANGED:+,}$1"; }

lan_value() { echo "$LANPRINT" | sed -n "s/^$1 *: //p" | head -1 | sed 's/ *$//'; }

LANPRINT=$(ipmitool lan print 1 2>/dev/null)
[ -n "$LANPRINT" ] || { echo "WW-FAIL lanprint: empty"; FAILED=$((FAILED + 1)); }

if [ -n "$WWIPMI_VLAN" ]; then
    prev_vlan=$(lan_value '802.1q VLAN ID')
    if [ "$prev_vlan" = "$WWIPMI_VLAN" ] || { [ "$prev_vlan" = Disabled ] && [ "$WWIPMI_VLAN" = off ]; }; then
        :
    else
        changed vlan
        run vlan ipmitool lan set 1 vlan id "$WWIPMI_VLAN"
    fi
fi
if [ "$(lan_value 'IP Address')" != "$WWIPMI_IPADDR" ]; then
    changed ipaddr
    run ipsrc ipmitool lan set 1 ipsrc static
    run ipaddr ipmitool lan set 1 ipaddr "$WWIPMI_IPADDR"
    run access ipmitool lan set 1 access on
fi
if [ "$(lan_value 'Subnet Mask')" != "$WWIPMI_NETMASK" ]; then
    changed netmask
    run netmask ipmitool lan set 1 netmask "$WWIPMI_NETMASK"
fi
if [ -n "$WWIPMI_GATEWAY" ] && [ "$(lan_value 'Default Gateway IP')" != "$WWIPMI_GATEWAY" ]; then
    changed gateway
    run defgw ipmitool lan set 1 defgw ipaddr "$WWIPMI_GATEWAY"
fi

# User 2: named, administrator on channel 1, enabled; the password only when it does not test.
NAME2=$(ipmitool -c user list 1 2>/dev/null | awk -F, '$1 == 2 {print $2; exit}')
if [ "$NAME2" != "$WWIPMI_USER" ]; then
    changed user
    run username ipmitool user set name 2 "$WWIPMI_USER"
    run userpriv ipmitool user priv 2 4 1
    run userenable ipmitool user enable 2
fi
if ipmitool user test 2 20 "$WWIPMI_PASSWORD" >/dev/null 2>&1 \
   || ipmitool user test 2 16 "$WWIPMI_PASSWORD" >/dev/null 2>&1; then
    echo "WW usertest rc=0"
else
    changed password
    run password ipmitool user set password 2 "$WWIPMI_PASSWORD"
    run userpriv2 ipmitool user priv 2 4 1
    run userenable2 ipmitool user enable 2
fi
run setaccess ipmitool channel setaccess 1 2 link=on ipmi=on callin=on privilege=4

# Serial over LAN for user 2 on channel 1.
run solenc ipmitool sol set force-encryption true 1
run solauth ipmitool sol set force-authentication true 1
run solpriv ipmitool sol set privilege-level admin 1
run solpayload ipmitool sol payload enable 1 2
run solenable ipmitool sol set enabled true 1 1
run solnvrate ipmitool sol set non-volatile-bit-rate "$SOL_SPEED" 1
run solvrate ipmitool sol set volatile-bit-rate "$SOL_SPEED" 1

echo "WWIPMI-DONE failed=$FAILED changed=${CHANGED:-none}"
