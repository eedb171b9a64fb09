#!/bin/sh
# Build the tiny Linux test guest: a Debian kernel + a busybox initramfs with ipmitool.
#
#   tests/guest/build_guest.sh            # prints the cache dir; builds only when needed
#   PYBMC_GUEST_CACHE=/somewhere tests/guest/build_guest.sh
#
# Output (in ${PYBMC_GUEST_CACHE:-/var/tmp/pybmc-guest}, never in the repository):
#   vmlinuz          Debian's kernel, booted with -kernel
#   initrd.cpio.gz   busybox + ipmitool + IPMI/ACPI modules, booted with -initrd
#   stamp            the hash of this script: a matching stamp means "already built"
#
# The guest: kernel and init messages on ttyS0 (append console=ttyS0,115200), a getty on ttyS0
# (login "root", no password), busybox acpid so an ACPI power-button press (QMP
# system_powerdown, IPMI soft off) powers it off, ipmi_msghandler/ipmi_si/ipmi_devintf loaded so
# /dev/ipmi0 exists when QEMU has an in-band KCS device, and "TINYGUEST READY <uptime>" on
# ttyS0 once init is done. It reaches login: in about 7 s under TCG.
#
# Needs: apt-get (the kernel .deb is downloaded, not installed: no initramfs-tools on the host),
# dpkg-deb, tar, gzip, ldd, and the ipmitool and busybox-static packages
# (busybox-static is downloaded too when the host busybox is missing or not static).
# Environment: PYBMC_GUEST_KERNEL_DEB=path.deb uses that kernel package instead of downloading.
set -eu

CACHE=${PYBMC_GUEST_CACHE:-/var/tmp/pybmc-guest}
SCRIPT=$(readlink -f "$0")
STAMP_WANTED=$(sha256sum "$SCRIPT" | cut -d' ' -f1)

log() { echo "build_guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [ -f "$CACHE/stamp" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.cpio.gz" ] \
   && [ "$(cat "$CACHE/stamp")" = "$STAMP_WANTED" ]; then
    echo "$CACHE"
    exit 0
fi

mkdir -p "$CACHE/debs"
# Only one build at a time per cache (parallel test runs share it).
exec 9>"$CACHE/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$STAMP_WANTED" ]; then
    echo "$CACHE"
    exit 0
fi

# ---------------------------------------------------------------- packages
# `apt-get download` needs the package lists; refresh them once if they are empty.
# Its progress lines ("Get:1 ...") go to stderr: callers capture this function's caller's
# stdout as the path of the downloaded .deb.
apt_download() {
    (cd "$CACHE/debs" && apt-get download -q "$1" 2>/dev/null) >&2 && return 0
    if [ "$(id -u)" = 0 ]; then
        log "apt-get download $1 failed; running apt-get update once"
        apt-get update -qq >&2 || true
        (cd "$CACHE/debs" && apt-get download -q "$1" 2>/dev/null) >&2 && return 0
    fi
    die "cannot download $1 (run apt-get update, or set PYBMC_GUEST_KERNEL_DEB)"
}

kernel_deb() {
    if [ -n "${PYBMC_GUEST_KERNEL_DEB:-}" ]; then
        echo "$PYBMC_GUEST_KERNEL_DEB"
        return
    fi
    existing=$(ls "$CACHE"/debs/linux-image-*-amd64_*.deb 2>/dev/null | sort | tail -1 || true)
    if [ -n "$existing" ]; then
        echo "$existing"
        return
    fi
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
          | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
    if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >&2 || true
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
              | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
    fi
    [ -n "$pkg" ] || die "cannot find the kernel package behind linux-image-amd64"
    log "downloading $pkg"
    apt_download "$pkg"
    ls "$CACHE"/debs/"$pkg"_*.deb | sort | tail -1
}

static_busybox() {
    for candidate in /bin/busybox /usr/bin/busybox; do
        if [ -x "$candidate" ] && ldd "$candidate" 2>&1 | grep -q "not a dynamic"; then
            echo "$candidate"
            return
        fi
    done
    deb=$(ls "$CACHE"/debs/busybox-static_*.deb 2>/dev/null | sort | tail -1 || true)
    if [ -z "$deb" ]; then
        log "downloading busybox-static"
        apt_download busybox-static
        deb=$(ls "$CACHE"/debs/busybox-static_*.deb | sort | tail -1)
    fi
    mkdir -p "$CACHE/busybox-static"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/busybox-static" ./bin/busybox
    echo "$CACHE/busybox-static/bin/busybox"
}

IPMITOOL=$(command -v ipmitool) || die "ipmitool is not installed (apt-get install ipmitool)"
BUSYBOX=$(static_busybox)
DEB=$(kernel_deb)
[ -f "$DEB" ] || die "kernel package $DEB not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pybmc-guest-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
KROOT=$WORK/kroot
R=$WORK/root
mkdir -p "$KROOT"

# Only the kernel image and the few modules the guest loads: the whole package is ~400 MB.
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KROOT" --wildcards \
    './boot/vmlinuz-*' \
    './lib/modules/*/kernel/drivers/char/ipmi/*.ko' \
    './lib/modules/*/kernel/drivers/input/evdev.ko' \
    './lib/modules/*/kernel/drivers/acpi/button.ko' \
    './lib/modules/*/kernel/drivers/scsi/scsi_common.ko' \
    './lib/modules/*/kernel/drivers/scsi/scsi_mod.ko' \
    './lib/modules/*/kernel/drivers/scsi/sr_mod.ko' \
    './lib/modules/*/kernel/drivers/ata/libata.ko' \
    './lib/modules/*/kernel/drivers/ata/ata_piix.ko' \
    './lib/modules/*/kernel/drivers/cdrom/cdrom.ko' \
    './lib/modules/*/kernel/fs/isofs/isofs.ko'
KVER=$(ls "$KROOT/lib/modules" | head -1)
[ -n "$KVER" ] || die "no modules found in $DEB"
log "kernel $KVER, busybox $BUSYBOX, ipmitool $IPMITOOL"

# ---------------------------------------------------------------- the root filesystem
mkdir -p "$R/bin" "$R/sbin" "$R/etc/acpi/PWRF" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" \
         "$R/root" "$R/lib/modules" "$R/var/log" "$R/var/run" "$R/usr/share/misc"
cp "$BUSYBOX" "$R/bin/busybox"
# Every applet as a link, except "busybox" itself: that link would replace the binary.
for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$R/bin/$applet"
done
M=$KROOT/lib/modules/$KVER/kernel
cp "$M"/drivers/char/ipmi/*.ko "$M/drivers/input/evdev.ko" "$M/drivers/acpi/button.ko" \
   "$R/lib/modules/"
# The IDE CD-ROM and ISO 9660, for virtual media (the BMC's CD drive is an ide-cd).
cp "$M"/drivers/scsi/scsi_common.ko "$M"/drivers/scsi/scsi_mod.ko "$M"/drivers/scsi/sr_mod.ko \
   "$M"/drivers/ata/libata.ko "$M"/drivers/ata/ata_piix.ko "$M"/drivers/cdrom/cdrom.ko \
   "$M"/fs/isofs/isofs.ko "$R/lib/modules/"

cp "$IPMITOOL" "$R/bin/ipmitool"
for lib in $(ldd "$IPMITOOL" | grep -o '/[^ ]*'); do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
done
# The IANA registry ipmitool reads (a warning without it; 4.7 MB uncompressed, ~1 MB gzipped).
if [ -f /usr/share/misc/enterprise-numbers.txt ]; then
    cp /usr/share/misc/enterprise-numbers.txt "$R/usr/share/misc/"
fi

echo 'root::0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
echo 'tinyguest' > "$R/etc/hostname"
cat > "$R/etc/inittab" <<'EOF'
::sysinit:/etc/rc
ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
EOF
cat > "$R/etc/rc" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# insmod resolves no dependencies: the message handler first. ipmi_si fails (harmlessly)
# when the VM has no IPMI device.
for m in ipmi_msghandler ipmi_devintf ipmi_si evdev button \
         scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs; do
    insmod /lib/modules/$m.ko 2>/dev/null
done
acpid -c /etc/acpi          # busybox acpid: KEY_POWER runs /etc/acpi/PWRF/00000080
hostname -F /etc/hostname
if [ -e /dev/ipmi0 ]; then ipmi=yes; else ipmi=no; fi
echo "TINYGUEST READY $(cut -d' ' -f1 /proc/uptime) ipmi0=$ipmi" > /dev/ttyS0
EOF
chmod +x "$R/etc/rc"
printf '#!/bin/sh\necho "TINYGUEST POWER BUTTON" > /dev/ttyS0\npoweroff\n' \
    > "$R/etc/acpi/PWRF/00000080"
chmod +x "$R/etc/acpi/PWRF/00000080"
ln -s /bin/busybox "$R/init"

# ---------------------------------------------------------------- pack
(cd "$R" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -9) > "$WORK/initrd.cpio.gz"
cp "$KROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
mv "$WORK/vmlinuz" "$CACHE/vmlinuz"
mv "$WORK/initrd.cpio.gz" "$CACHE/initrd.cpio.gz"
echo "$STAMP_WANTED" > "$CACHE/stamp"
log "built $CACHE/vmlinuz and $CACHE/initrd.cpio.gz ($(du -k "$CACHE/initrd.cpio.gz" | cut -f1) KiB)"
echo "$CACHE"
