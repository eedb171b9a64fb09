#!/bin/sh
# Build a bootable ISO (isolinux, BIOS El Torito) holding the tiny guest's kernel and initrd,
# with CMDLINE_MARKER on its kernel command line so a test can tell a CD boot from a -kernel
# boot. Usage: build_cd_iso.sh VMLINUZ INITRD OUT.iso MARKER
# Needs xorriso and isolinux + syslinux-common (Debian packages).
set -eu
vmlinuz=$1 initrd=$2 out=$3 marker=$4
isolinux=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
for need in "$isolinux" "$ldlinux"; do
    [ -r "$need" ] || { echo "missing $need (apt-get install isolinux syslinux-common)" >&2; exit 2; }
done
root=$(mktemp -d "${TMPDIR:-/tmp}/pybmc-cdiso.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/isolinux"
cp "$isolinux" "$ldlinux" "$root/isolinux/"
cp "$vmlinuz" "$root/vmlinuz"
cp "$initrd" "$root/initrd.gz"
cat > "$root/isolinux/isolinux.cfg" <<CFG
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0,115200 panic=-1 quiet $marker
CFG
xorriso -as mkisofs -quiet -V PYBMC_BOOT -o "$out.tmp" \
    -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table "$root"
mv "$out.tmp" "$out"
