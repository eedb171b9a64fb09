#!/bin/sh
# A discovery-time BMC setup for pybmc's end-to-end tests, modelled on what xCAT's genesis
# `bmcsetup` (and `doxcat` before a reboot) send in-band: every step goes through /dev/ipmi0 with
# ipmitool's open interface, in the order docs/reference xcat.md section 4 lists. Written for
# pybmc from those byte-level notes; it is not xCAT's script.
#
# Reads BMCIP NETMASK GATEWAY BMCUSER BMCPASS (and REBOOT=1 to reboot -f at the end) from
# /etc/bmcsetup.conf. Prints one line per step:
#   STEP <name> tries=<failed attempts> secs=<elapsed>
# and "STEP-FAIL <name>: <output>" for every failed attempt. bmcsetup retries a failed step up
# to 15 times with a 1 s sleep; a BMC must make every step succeed the first time, so this gives
# up after 3 attempts and the test counts any failure. Ends with
#   BMCSETUP-DONE failed=<n> lanchan=<c> slot=<s> ipmiver=<v>
. /etc/bmcsetup.conf

FAILED=0
uptime_s() { cut -d' ' -f1 /proc/uptime; }

step() {
    name=$1
    shift
    started=$(uptime_s)
    tries=0
    until "$@" >/tmp/step.out 2>&1; do
        tries=$((tries + 1))
        echo "STEP-FAIL $name: $(tr '\n' ' ' </tmp/step.out | cut -c1-300)"
        [ "$tries" -ge 3 ] && break
        sleep 1
    done
    [ "$tries" -eq 0 ] || FAILED=$((FAILED + 1))
    echo "STEP $name tries=$tries secs=$(echo "$(uptime_s) $started" | awk '{printf "%.2f", $1 - $2}')"
}

# One field of `ipmitool lan print`: the text after "Label   : ".
lan_field() {
    ipmitool lan print "$LANCHAN" 2>/dev/null | sed -n "s/^$1 *: //p" | head -1
}

# ----------------------------------------------------------------- start
step version sh -c 'ipmitool -V | grep -q version'
step device test -c /dev/ipmi0

# The LAN channel: the first of 1..16 whose Get Channel Info says 802.3 and whose LAN
# parameter 5 (MAC address) reads with completion code 0.
is_lan_channel() {
    ipmitool channel info "$1" 2>/dev/null | grep -q 802.3 \
        && ipmitool raw 0xc 2 "$1" 5 0 0 >/dev/null 2>&1
}
LANCHAN=""
for c in $(seq 1 16); do
    if is_lan_channel "$c"; then
        LANCHAN=$c
        break
    fi
done
if [ -z "$LANCHAN" ]; then
    echo "STEP-FAIL lanchan: no 802.3 channel"
    FAILED=$((FAILED + 1))
    LANCHAN=1
fi
echo "STEP lanchan tries=0 secs=0 channel=$LANCHAN"

step mcinfo ipmitool mc info
IPMIVER=$(ipmitool mc info 2>/dev/null | awk '/^IPMI Version/ {print $4}')

# What discovery reports to xCAT: FRU 0, the SOL payload channel (channel 0x0E = "this one"),
# and the LAN settings.
step fru ipmitool fru print 0
step solinfo ipmitool sol info
step lanprint ipmitool lan print "$LANCHAN"

# ----------------------------------------------------------------- IP settings (static)
# Set even when the value is already there (xCAT 2.17 does; later versions compare first).
echo "IP address source was: $(lan_field 'IP Address Source')"
step ipsrc ipmitool lan set "$LANCHAN" ipsrc static
step ipaddr ipmitool lan set "$LANCHAN" ipaddr "$BMCIP"
step netmask ipmitool lan set "$LANCHAN" netmask "$NETMASK"
step defgw ipmitool lan set "$LANCHAN" defgw ipaddr "$GATEWAY"
# No tagged VLAN: parameter 20 = 0000 (disabled).
step vlan ipmitool raw 0xc 1 "$LANCHAN" 0x14 0 0

# ----------------------------------------------------------------- the user
step userlist ipmitool user list "$LANCHAN"
SLOT=$(ipmitool user list "$LANCHAN" 2>/dev/null | awk -v u="$BMCUSER" '$2 == u {print $1; exit}')
# Get User Access on channel 1 for user 1: max IDs, enabled IDs, fixed-name IDs, access.
ACCESS=$(ipmitool raw 6 0x44 1 1 2>/dev/null)
MAXUSERS=$((0x$(echo "$ACCESS" | awk '{print $1}')))
if [ -z "$SLOT" ]; then
    SLOT=$(($(echo "$ACCESS" | awk '{print $3}') + 1))
fi
# Every other user ID is disabled (Set User Password, operation "disable"), the null user too.
uid=1
while [ "$uid" -le "$MAXUSERS" ]; do
    if [ "$uid" != "$SLOT" ]; then
        step "disable$uid" ipmitool user disable "$uid"
    fi
    uid=$((uid + 1))
done
step enable ipmitool user enable "$SLOT"
# Set User Access: change bits, IPMI messaging, link auth, channel; administrator.
step useraccess ipmitool raw 6 0x43 $((LANCHAN | 176)) "$SLOT" 4
if [ "$(ipmitool user list "$LANCHAN" | awk -v s="$SLOT" '$1 == s {print $2}')" != "$BMCUSER" ]; then
    step username ipmitool user set name "$SLOT" "$BMCUSER"
fi
if [ "$(ipmitool user list "$LANCHAN" | awk -v s="$SLOT" '$1 == s {print $6}')" != "ADMINISTRATOR" ]; then
    step userpriv ipmitool user priv "$SLOT" 4 "$LANCHAN"
fi
step setaccess ipmitool channel setaccess "$LANCHAN" "$SLOT" link=on
if [ "${#BMCPASS}" -gt 16 ]; then
    step password ipmitool user set password "$SLOT" "$BMCPASS" 20
else
    step password ipmitool user set password "$SLOT" "$BMCPASS"
fi
ipmitool user list "$LANCHAN"

# ----------------------------------------------------------------- channel and LAN access
# Set Channel Access: always available, user level auth on, privilege limit administrator;
# non-volatile (0x40/0x40 bits), then volatile (0x80/0x80 bits).
step chanaccess-nv ipmitool raw 0x6 0x40 "$LANCHAN" 0x42 0x44
step chanaccess-v ipmitool raw 0x6 0x40 "$LANCHAN" 0x82 0x84
step arp ipmitool lan set "$LANCHAN" arp respond on
step auth ipmitool lan set "$LANCHAN" auth admin md5

# ----------------------------------------------------------------- IPMI 2.0
if [ "$IPMIVER" != "1.5" ]; then
    SUITES=$(lan_field 'RMCP+ Cipher Suites')
    CURRENT=$(lan_field 'Cipher Suite Priv Max')
    echo "cipher suites $SUITES, privilege levels $CURRENT"
    # As bmcsetup does: find the 1-based positions of suites 1, 2 and 3 in the suite list;
    # the level letter at suite 1's position becomes X (unused), at suite 2's and 3's "a"
    # (an OEM level is kept), the others stay as read. (bmcsetup means to turn suite 0 off too, but its pattern for 0
    # never matches.)
    position() { echo "$SUITES" | tr ',' '\n' | grep -n "^$1\$" | cut -d: -f1; }
    ONE=$(position 1)
    TWO=$(position 2)
    THREE=$(position 3)
    PRIVS=""
    i=1
    for elem in $(echo "$CURRENT" | sed 's/\(.\)/\1 /g'); do
        if [ "$i" = "$ONE" ]; then
            PRIVS="${PRIVS}X"
        elif [ "$i" = "$TWO" ] || [ "$i" = "$THREE" ]; then
            if [ "$elem" = "O" ]; then PRIVS="$PRIVS$elem"; else PRIVS="${PRIVS}a"; fi
        else
            PRIVS="$PRIVS$elem"
        fi
        i=$((i + 1))
    done
    step cipherprivs ipmitool lan set "$LANCHAN" cipher_privs "$PRIVS"
    step solenable ipmitool raw 0xc 0x21 "$LANCHAN" 0x1 0x1
    step solpayload ipmitool raw 6 0x4c "$LANCHAN" "$SLOT" 2 0 0 0
fi

# ----------------------------------------------------------------- the end of bmcsetup
# Chassis Identify for 10 s, again and again (xCAT repeats it every 7 s in the background).
for round in 1 2 3; do
    step "identify$round" ipmitool raw 0 4 10
    sleep 1
done

# doxcat before rebooting into the next destiny: boot flag valid bit clearing (parameter 3),
# then PXE for the next boot, then a reboot from inside the guest.
step bootclear ipmitool raw 0x00 0x08 0x03 0x08
step bootdev ipmitool chassis bootdev pxe

echo "BMCSETUP-DONE failed=$FAILED lanchan=$LANCHAN slot=$SLOT ipmiver=$IPMIVER"
if [ "${REBOOT:-0}" = 1 ]; then
    sleep 1
    reboot -f
fi
