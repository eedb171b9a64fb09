"""Every known, accepted difference between ipmi_sim 2.0.33 and pybmc, with its reason.

This is the one place such reasons live. A scenario whose outputs differ and that is not listed
here is a `differs-unexpected` row and fails the run; a listed scenario whose outputs become
equal simply reads `same`. Where ipmi_sim cannot do something at all (a step a correct BMC
allows fails on it) the row is `pybmc-only`, with the reason below when one is listed.
"openipmi.md" is /work/shared/reference/openipmi.md (ipmi_sim's behaviour, read in its source).
"""

from __future__ import annotations

# Reasons shared by several scenarios.
_SUITES = ("ipmi_sim offers cipher suites 0-14 (no SHA-256 suites; 0 accepted; 4, 5, 9, 10, 13, "
           "14 advertised but unusable); pybmc offers the suites its [security] cipher_suites "
           "lists: the profile names 1, 2, 3 and 17 (pybmc's defaults are 3 and 17) "
           "(openipmi.md §3, §9.1, §9.5). LAN parameters 22-24: pybmc lists suite IDs 0-15 "
           "(16 entries) by ID, Administrator for the enabled ones and 0 (unused) for the "
           "others, which stay refused (docs/ipmi.md)")
_NO_SERIAL_CHANNEL = ("ipmi_sim has no serial/modem channel and no Get/Set Serial/Modem "
                      "Configuration (0xC1, openipmi.md §2 Transport); pybmc's channel 2 is "
                      "RS-232 with its settings stored (docs/ipmi.md)")
_BOOT_FLAGS = ("ipmi_sim keeps only the boot device selector of the boot flags and answers "
               "`00 dev<<2 00 00 00`: the valid, persistent and EFI bits a client set are lost, so "
               "ipmitool shows 'Boot Flag Invalid' (openipmi.md §2 Chassis); pybmc reads back "
               "what was set")
_USER_BITS = ("ipmi_sim keeps one flag per user for 'enabled' and 'IPMI messaging', never reports "
              "link authentication or the user-ID enable status, reports privilege 0 (reserved) "
              "for users without access, and has 63 user slots with user 1 counted as fixed "
              "only when valid; pybmc has 16 users (user 1 the fixed null-name user), keeps the "
              "access bits as set (configured users get link auth on) and reports NO ACCESS "
              "(0x0F)")
_SEL_CLOCK = ("ipmi_sim's SEL clock is the monotonic clock + an offset starting at 0, so times "
              "read as 1970/'Pre-Init' (openipmi.md §2 Storage, §9.8); pybmc's is the host's "
              "real time")
_SEL_EVENTS = ("pybmc logs what a BMC logs: its own start (BMC Health), power and ACPI state "
               "changes, SEL clears; ipmi_sim logs nothing by itself, so entry counts and record "
               "IDs differ (and pybmc also implements Get SEL Allocation Info and Partial Add SEL "
               "Entry, which Get SEL Info advertises)")
_FREEIPMI_LAN20 = ("ipmi_sim's Open Session response echoes the requested privilege (0 = "
                   "'highest') instead of the one granted, so FreeIPMI over LAN_2_0 fails "
                   "with 'privilege level cannot be obtained' (openipmi.md §9.4)")
_NOT_IN_IPMI_SIM = "not implemented in ipmi_sim 2.0.33 (0xC1, openipmi.md §2, §9.7)"
_SOL_PARAMETER = ("ipmi_sim answers 0x80 (parameter not supported) for SOL parameters 2, 3, 4, "
                  "7 and 8 (openipmi.md §2 Transport)")
_SYSTEM_SENSORS = ("pybmc also describes its own system sensors (Watchdog, Power Unit, ACPI "
                   "State, System Boot, Event Log, BMC Health) with SDRs; ipmi_sim has only the "
                   "profile's Temp SDR (its watchdog sensor 0 has none)")
_NO_LAN6 = ("ipmi_sim 2.0.33 has no IPv6 LAN parameters (50-80 answer 0x80, openipmi.md §2 "
            "Transport), so `lan6 print` prints nothing and bmc-config's Lan6_Conf section "
            "fails; pybmc stores and reports them")
_NO_FIREWALL = _NOT_IN_IPMI_SIM + " (firmware firewall: Get NetFn Support, Get Command Support)"

EXPECTED: dict[str, str] = {
    # ------------------------------------------------------------ sessions and cipher suites
    "session/lanplus-default-suite": (
        "ipmitool without -C asks Get Channel Cipher Suites for channel 0x0E; ipmi_sim accepts "
        "only LAN channel numbers (0xCC) so ipmitool prints 'Unable to Get Channel Cipher "
        "Suites' and falls back to suite 3 after ~3 s; pybmc answers and ipmitool picks 17"),
    "session/lanplus-suite-0-refused": (
        "ipmi_sim accepts cipher suite 0 (no authentication: any password works, CVE-2013-4782 "
        "class, openipmi.md §9.1); pybmc refuses it unless [security] cipher_suites lists 0"),
    "session/lanplus-suite-8-not-offered": (
        "both fail, differently: ipmi_sim negotiates suite 8 but its HMAC-MD5-128 integrity "
        "uses the password instead of K1, so the first integrity-checked message fails "
        "(openipmi.md §3); pybmc does not offer suite 8 unless configured and refuses it in "
        "Open Session"),
    "session/operator-asks-admin": (
        "ipmi_sim does not clamp the RMCP+ role to the user's privilege (openipmi.md §9.3): an "
        "operator gets an ADMINISTRATOR session; pybmc refuses it"),
    "session/user-asks-admin": (
        "ipmi_sim does not clamp the RMCP+ role to the user's privilege (openipmi.md §9.3): a "
        "USER-privilege user gets an ADMINISTRATOR session; pybmc refuses it"),
    "session/info-active": (
        "slot count: ipmi_sim has 63 session slots (fixed); pybmc's [security] max_sessions "
        "defaults to 32"),
    "session/getciphers": _SUITES,
    "session/sessionless-device-id": (
        "a command outside a session other than the pre-session ones: ipmi_sim answers 0xD5 "
        "(not supported in present state), pybmc 0xD4 (insufficient privilege)"),
    "session/lanplus-suite-17": _SUITES,
    "session/suite-17-mc-info": _SUITES,
    "session/suite-17-sdr-list": _SUITES,
    "session/suite-17-lan-ip": _SUITES,
    "session/channel-authcap": (
        "ipmi_sim answers Get Channel Authentication Capabilities only outside a session "
        "(0xD5 inside one); pybmc answers it in a session too, as the specification allows"),
    "session/freeipmi-lan20": _FREEIPMI_LAN20,
    "session/freeipmi-lan20-opensesspriv": (
        "not sent to ipmi_sim: FreeIPMI's opensesspriv workaround sends Get Channel Payload "
        "Support for channel 0x0E, which crashes ipmi_sim 2.0.33 (openipmi.md §9.13)"),
    # ------------------------------------------------------------ error paths
    "error/bad-password-lan15": (
        "ipmi_sim drops an Activate Session whose auth code is wrong, so ipmitool times out "
        "after its retries (~2 s); pybmc answers at once with an error completion code"),
    "error/chassis-control-bad-action": (
        "ipmi_sim answers success to undefined Chassis Control actions (6-13 fall through its "
        "switch); pybmc answers 0xCC (invalid data field)"),
    "error/channel-info-no-channel": (
        "Get Channel Info for a channel that does not exist: ipmi_sim answers 0xCB (not "
        "present), pybmc 0xCC (invalid data field)"),
    # ------------------------------------------------------------ chassis
    "chassis/capabilities": (
        "ipmi_sim 2.0.33 never sets the response length of Get Chassis Capabilities and returns "
        "36 bytes, stack garbage included (openipmi.md §2, fixed in 2.0.37); pybmc returns the "
        "6 defined bytes"),
    "chassis/status-raw": (
        "power restore policy bits: ipmi_sim has no Set Power Restore Policy and reports "
        "always-off (0x00); pybmc's [power] restore_policy defaults to previous (0x20)"),
    "chassis/power-diag": (
        "ipmi_sim answers 0xCC to a diagnostic interrupt (openipmi.md §6.2); pybmc's "
        "simulated machine takes it"),
    "chassis/policy-list": _NOT_IN_IPMI_SIM + " (Set Power Restore Policy)",
    "chassis/poh": _NOT_IN_IPMI_SIM + " (Get POH Counter)",
    "chassis/restart-cause": _NOT_IN_IPMI_SIM + " (Get System Restart Cause)",
    "chassis/ipmipower-lan20": _FREEIPMI_LAN20,
    # ------------------------------------------------------------ boot options
    "boot/param-0-set-in-progress": (
        "ipmi_sim handles boot parameter 1 as if it were set-in-progress and answers 0xCC to "
        "parameter 0 (openipmi.md §2 Chassis)"),
    "boot/bootdev-pxe": _BOOT_FLAGS,
    "boot/bootdev-disk": _BOOT_FLAGS,
    "boot/bootdev-cdrom": _BOOT_FLAGS,
    "boot/bootdev-bios": _BOOT_FLAGS,
    "boot/bootdev-none": _BOOT_FLAGS,
    "boot/bootdev-pxe-persistent": _BOOT_FLAGS,
    "boot/bootdev-pxe-efiboot": _BOOT_FLAGS,
    "boot/flags-raw": _BOOT_FLAGS,
    "boot/pyghmi-network": _BOOT_FLAGS + "; pyghmi therefore reads 'default, persistent'",
    "boot/param-4-info-ack": (
        "ipmi_sim returns no data for boot parameter 4 when a chassis_control program is used "
        "(its handler only fills it for loadable modules); pybmc returns the acknowledge "
        "mask and data"),
    # ------------------------------------------------------------ LAN parameters
    "lan/print": (
        "several parameters: ipmi_sim advertises auth types NONE and OEM (0x1F) it does not "
        "enable, leaves the OEM enables at 0, starts the IP header parameters at zeros (pybmc: "
        "the specification's 40 40 10), lacks ARP control (10, 11) and bad-password "
        "threshold (73); " + _SUITES),
    "lan/auth-type-support": (
        "ipmi_sim reports 0x1F (none, MD2, MD5, password, OEM) whatever is enabled; pybmc "
        "reports the types its [security] auth_types enable"),
    "lan/auth-type-enables": (
        "OEM privilege level: ipmi_sim has no allowed_auths for it (0x00); pybmc applies the "
        "same [security] auth_types to every level"),
    "lan/cipher-suite-count": _SUITES,
    "lan/cipher-suite-privileges": _SUITES,
    "lan/cipher-suite-entries": (
        "ipmi_sim's parameter 23 lists IDs 1-16 after its count of 15 (each one above the "
        "suites 0-14 it accepts; FreeIPMI carries a workaround for BMCs that do this); "
        + _SUITES),
    # ------------------------------------------------------------ serial/modem channel
    "serial/channel-info": _NO_SERIAL_CHANNEL,
    "serial/channel-access": _NO_SERIAL_CHANNEL,
    "serial/connection-mode": _NO_SERIAL_CHANNEL,
    "serial/messaging-comm-settings": _NO_SERIAL_CHANNEL,
    "serial/set-call-retry-interval": _NO_SERIAL_CHANNEL,
    "serial/reserved-bit-rate": (
        "both refuse, differently: " + _NO_SERIAL_CHANNEL + "; pybmc answers 0xCC to the "
        "reserved bit rate code 5"),
    "serial/freeipmi-serial-conf": _NO_SERIAL_CHANNEL,
    # ------------------------------------------------------------ users and channels
    "user/list": _USER_BITS,
    "user/summary": _USER_BITS,
    "user/get-access-2": _USER_BITS,
    "user/pyghmi-users": _USER_BITS,
    "channel/getaccess": _USER_BITS,
    "user/test-wrong-password": (
        "ipmi_sim answers success to every 'test password' request (openipmi.md §2 App); "
        "pybmc compares the password"),
    "channel/info-system-interface": (
        "auxiliary channel info of the system interface: ipmi_sim sends 00 00, pybmc ff ff "
        "(interrupt types unspecified)"),
    "channel/payload-support": (
        "ipmi_sim's Get Channel Payload Support bits are wrong (bit 1 always, bit 2 for SOL, "
        "openipmi.md §2); pybmc reports IPMI and SOL (bits 0, 1) and the session setup "
        "payloads"),
    # ------------------------------------------------------------ SOL configuration
    "sol/info": (
        "ipmi_sim answers 0x80 (not supported) for SOL parameters 2, 3, 4, 7 and 8 and starts "
        "the bit rates at 0 (openipmi.md §2 Transport); pybmc supports all of them"),
    "sol/auth-param": _SOL_PARAMETER,
    "sol/accumulate-param": _SOL_PARAMETER,
    "sol/retry-param": _SOL_PARAMETER,
    "sol/payload-channel-param": _SOL_PARAMETER,
    "sol/payload-port-param": _SOL_PARAMETER,
    "sol/non-volatile-rate-param": (
        "ipmi_sim starts SOL parameter 5 at 0 ('IPMI-over-serial setting') until a client sets "
        "it; pybmc starts at 115.2 kbps, the rate its serial console runs at"),
    # ------------------------------------------------------------ MC, SDR, SEL, FRU
    "mc/selftest": _NOT_IN_IPMI_SIM + " (Get Self Test Results)",
    "mc/device-guid": _NOT_IN_IPMI_SIM + " (Get Device GUID)",
    "dcmi/discover": _NOT_IN_IPMI_SIM + " (DCMI, NetFn 0x2C group 0xDC)",
    "dcmi/mc-id-string": _NOT_IN_IPMI_SIM + " (DCMI Get Management Controller ID String)",
    "dcmi/power-limit": _NOT_IN_IPMI_SIM + " (DCMI Get Power Limit)",
    "dcmi/capability-freeipmi": _NOT_IN_IPMI_SIM + " (DCMI Get DCMI Capability Info)",
    "mc/bmc-info-freeipmi": (
        "bmc-info also reads the system firmware version (Get System Info Parameters), which "
        "ipmi_sim does not implement, and exits 1 (openipmi.md §2 App)"),
    "mc/watchdog-get": (
        "ipmi_sim's Get Watchdog Timer returns 7 bytes and cuts off the present countdown, so "
        "ipmitool prints garbage there (openipmi.md §2 App)"),
    "mc/global-enables": (
        "initial BMC Global Enables: ipmi_sim starts with only system event logging; pybmc "
        "also enables the event message buffer, as BMCs do after a reset"),
    "sensor/get-temp": (
        "ipmitool prints 'Assertion Events' from Get Sensor Event Status (0x2B), which pybmc "
        "answers as server BMCs do (empty: no threshold crossed) and ipmi_sim does not"),
    "sdr/list": _SYSTEM_SENSORS,
    "sdr/repository-info": _SYSTEM_SENSORS + "; the record count and free space differ",
    "sel/time-get": _SEL_CLOCK,
    "sel/info": _SEL_EVENTS,
    "sel/add-list-clear": _SEL_EVENTS,
    "sel/freeipmi": _SEL_EVENTS,
    "sel/pyghmi-event-log": _SEL_EVENTS,
    "error/fru-no-device": (
        "Get FRU Inventory Area Info for a FRU device that does not exist: ipmi_sim answers "
        "0xCC (invalid data field), pybmc 0xCB (requested data not present)"),
    # ------------------------------------------------------------ IPv6 and smaller commands
    "lan6/print": _NO_LAN6,
    "lan6/support-param": _NO_LAN6,
    "lan6/status-param": _NO_LAN6,
    "lan6/static-address-param": _NO_LAN6,
    "lan6/set-enables": _NO_LAN6,
    "lan6/bmc-config": _NO_LAN6,
    "sensor/event-enable-set": (
        "ipmi_sim answers 0xB0 to Set Sensor Event Enable for the profile's sensor and keeps "
        "its enables; pybmc sets the ones the request gives (here: no change of masks)"),
    "sensor/type-set-same": (
        "ipmi_sim answers 0xC1 to Set Sensor Type; pybmc accepts the sensor's own type (types "
        "come from the platform config, any other one is 0xCD)"),
    "sensor/reading-status-set": _NOT_IN_IPMI_SIM + " (Set Sensor Reading and Event Status)",
    "mc/acpi-power-state-set": _NOT_IN_IPMI_SIM + " (Get/Set ACPI Power State)",
    "mc/kcs-capabilities": _NOT_IN_IPMI_SIM + " (Get System Interface Capabilities)",
    "mc/kcs-capabilities-freeipmi": _NOT_IN_IPMI_SIM + " (Get System Interface Capabilities)",
    "mc/firewall-netfn-support": _NO_FIREWALL,
    "mc/firewall-app-commands": _NO_FIREWALL,
    "mc/firewall-info": _NO_FIREWALL + ", so ipmitool prints 'Get NetFn Support command failed'",
    "mc/i2c-fru-eeprom": (
        "ipmi_sim has no device behind Master Write-Read and the transfer fails; pybmc's "
        "private bus 0 holds the FRU EEPROM (FRU 0's bytes) at A0h"),
    "sel/partial-add-no-reservation": (
        "ipmi_sim 2.0.33 answers 0xC1 to Partial Add SEL Entry; pybmc implements it and "
        "refuses a piece without a valid reservation (0xC5)"),
    "fru/pyghmi-inventory": (
        "ipmi_sim caps every response at 36 bytes (openipmi.md §2, §9.6), so pyghmi's larger "
        "Read FRU Data requests fail with 0xC8 and it gives up"),
    # ------------------------------------------------------------ SDR writes, K_G, PEF, alerts
    "sdr/delete-no-reservation": (
        "ipmi_sim looks the record up before the reservation and answers 0xCB; pybmc checks "
        "the reservation first (0xC5), as the spec's order of request fields suggests"),
    "sdr/partial-add-no-reservation": (
        _NOT_IN_IPMI_SIM + " (Partial Add SDR); pybmc answers 0xC5 without a reservation"),
    "sdr/clear-status-no-reservation": (
        "ipmi_sim answers a Clear SDR status query under reservation 0000h; pybmc requires "
        "the reservation (or the one the erase used), as for Clear SEL, and answers 0xC5"),
    "sdr/info-operations": (
        "ipmi_sim's Get SDR Repository Info advertises only Reserve (and answers Add SDR with "
        "0x80); pybmc implements and advertises Delete, Partial Add, modal and non-modal "
        "updates and Get SDR Repository Allocation Info"),
    "sdr/update-mode": (
        _NOT_IN_IPMI_SIM + " (Enter SDR Repository Update Mode); pybmc accepts Enter/Exit "
        "(updates are non-modal, docs/ipmi.md)"),
    "pef/capabilities": (
        "ipmi_sim advertises the OEM action (bit 5) and 16 event filters; pybmc takes the "
        "actions it advertises (alert, power off/cycle, reset, diagnostic interrupt) and has "
        "8 filters"),
    "pef/info": (
        "same as pef/capabilities: ipmi_sim lists 16 filters and the OEM action; pybmc 8 "
        "filters and no OEM action"),
    "lan/alert-print": (
        "ipmi_sim has no LAN alert destinations (parameters 18/19 answer 0x80), so ipmitool "
        "prints nothing; pybmc stores 4 PET destinations and sends traps to them"),
}
