"""The commented example cluster file `pybmc cluster init` prints: the two-node xCAT lab."""

EXAMPLE = '''\
# A virtual cluster for pybmc: `sudo pybmc cluster up lab.toml`, `... down lab.toml`.
# The original two-node xCAT lab: br0 192.168.123.1/24, head .2, cn1 .3 (BMC .4),
# cn2 .5 (BMC .6).

[cluster]
name = "lab"
# netns = "lab"             # build everything inside this network namespace (made by up,
                            # removed by down) so nothing touches the host's own network
state_dir = "state"         # disks, BMC state, run files, logs (relative to this file)

[network]
bridge = "br0"
address = "192.168.123.1/24"   # the host's address on the bridge
# nat = true                   # masquerade the subnet out of the host (an nft table)
# head = "host"                # with netns: the address above on a veth into the host

# [provision]               # DHCP + TFTP + iPXE with dnsmasq; leave it out when the cluster
# enabled = true            # manager (xCAT, MAAS) runs its own DHCP
# range = "192.168.123.100,192.168.123.199"
# kernel = "vmlinuz"
# initrd = "initrd.img"
# cmdline = "console=ttyS0,115200"

[defaults]                  # for every node, overridable per node
memory = 1024               # MiB
cpus = 1
disk = "8G"                 # a qcow2 per node in state_dir (or base = "image.qcow2": an overlay)
boot = ["network", "disk"]
firmware = "bios"           # or "uefi"
qemu_args = []
users = [{ name = "admin", password = "secret", privilege = "administrator" }]

[[nodes]]
name = "cn1"
ip = "192.168.123.3"
mac = "00:00:00:00:00:02"
bmc = "192.168.123.4"

[[nodes]]
name = "cn2"
ip = "192.168.123.5"
mac = "00:00:00:00:00:03"
bmc = "192.168.123.6"

# Or many at once: n counts from `start` (1); {2n+2} is 2*n+2.
# [[nodes]]
# count = 8
# name = "gn{n}"
# bmc = "192.168.123.{2n+100}"
'''
