"""The catalogue: every client scenario the suite runs against both servers.

A scenario is a few client steps; its output is the steps' normalised outputs, and each step says
whether a correct BMC lets it succeed (`expect_ok`). Scenarios that change the same state share a
`lock` and run one after another, in catalogue order; all others run in parallel.
Why a scenario's outputs may differ between ipmi_sim and pybmc is written in expected.py, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.clients import FreeIpmi, Ipmitool, Pyghmi, Sleep, Step, Udp
from conformance.normalize import Normaliser, drop_lines, first_bytes, keep_lines
from conformance.profile import OPERATOR, VIEWER


@dataclass(frozen=True)
class Scenario:
    name: str  # "<category>/<what>"
    steps: tuple[Step, ...]
    lock: str | None = None
    timeout: float = 20.0  # per step
    normalise: Normaliser | None = None
    reference: bool = True  # False: never sent to ipmi_sim (expected.py says why)

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]


def it(*args: str, **options: object) -> Ipmitool:
    """ipmitool over RMCP+ (lanplus, cipher suite 3 unless told otherwise)."""
    return Ipmitool(args=args, **options)  # type: ignore[arg-type]


def it15(*args: str, **options: object) -> Ipmitool:
    """ipmitool over IPMI 1.5 (`-I lan`), MD5 unless told otherwise."""
    options.setdefault("auth_type", "MD5")
    return Ipmitool(args=args, interface="lan", cipher=None, **options)  # type: ignore[arg-type]


def raw(*hex_bytes: str, **options: object) -> Ipmitool:
    return it("raw", *hex_bytes, **options)


def fi(tool: str, *args: str, **options: object) -> FreeIpmi:
    return FreeIpmi(tool=tool, args=args, **options)  # type: ignore[arg-type]


def S(name: str, *steps: Step, **options: object) -> Scenario:  # a short name: a table row
    return Scenario(name, steps, **options)  # type: ignore[arg-type]


def _lan_param(number: int, **options: object) -> Ipmitool:
    return raw("0x0c", "0x02", "0x01", f"{number:#04x}", "0x00", "0x00", **options)


def _sol_param(number: int) -> Ipmitool:
    return raw("0x0c", "0x22", "0x01", f"{number:#04x}", "0x00", "0x00")


def _boot_param(number: int) -> Ipmitool:
    return raw("0x00", "0x09", f"{number:#04x}", "0x00", "0x00")


# The profile's one threshold sensor (pybmc also lists its own system sensors, expected.py).
TEMP_ONLY = keep_lines(r"Temp\b|^ID|^\$|Error|^\[exit")
OPER = {"user": OPERATOR[0], "password": OPERATOR[1]}
VIEW = {"user": VIEWER[0], "password": VIEWER[1]}
# A session-less RMCP ASF Presence Ping (IANA 4542, message tag 0x77).
ASF_PING = bytes.fromhex("0600ff06" "000011be" "80" "77" "00" "00")
AUTH_CAPS_V2 = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "09" "2018c88100388e04b5")
AUTH_CAPS_V15 = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "09" "2018c88100380e0435")
SESSIONLESS_DEVICE_ID = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "07"
                                      "2018c8810401" "7a")


def sessions() -> list[Scenario]:
    return [
        S("session/lanplus-suite-3", raw("0x06", "0x01")),
        S("session/lanplus-suite-17", raw("0x06", "0x01", cipher=17)),
        S("session/lanplus-suite-1", raw("0x06", "0x01", cipher=1)),
        S("session/lanplus-suite-2", raw("0x06", "0x01", cipher=2)),
        S("session/lanplus-default-suite", raw("0x06", "0x01", cipher=None)),
        S("session/suite-17-mc-info", it("mc", "info", cipher=17)),
        S("session/suite-17-sdr-list", it("sdr", "list", cipher=17), normalise=TEMP_ONLY),
        S("session/suite-17-lan-ip", _lan_param(3, cipher=17)),
        S("session/lanplus-suite-0-refused", raw("0x06", "0x01", cipher=0, expect_ok=False)),
        S("session/lanplus-suite-8-not-offered",
          raw("0x06", "0x01", cipher=8, expect_ok=False)),
        S("session/lan15-md5", it15("raw", "0x06", "0x01")),
        S("session/lan15-password", it15("raw", "0x06", "0x01", auth_type="PASSWORD")),
        S("session/lan15-none-refused",
          it15("raw", "0x06", "0x01", auth_type="NONE", expect_ok=False)),
        # Commands whose output does not depend on the power state other scenarios change.
        S("session/operator-at-operator",
          it("chassis", "identify", "1", privilege="OPERATOR", **OPER)),
        S("session/user-at-user", it("mc", "info", privilege="USER", **VIEW)),
        S("session/operator-asks-admin",
          raw("0x06", "0x01", privilege="ADMINISTRATOR", expect_ok=False, **OPER)),
        S("session/user-asks-admin",
          raw("0x06", "0x01", privilege="ADMINISTRATOR", expect_ok=False, **VIEW)),
        S("session/lan15-user-asks-admin",
          it15("raw", "0x06", "0x01", privilege="ADMINISTRATOR", expect_ok=False, **VIEW)),
        S("session/set-session-privilege", raw("0x06", "0x3b", "0x04")),
        S("session/set-session-privilege-above-user",
          raw("0x06", "0x3b", "0x04", privilege="USER", expect_ok=False, **VIEW)),
        S("session/info-active", it("session", "info", "active"),
          normalise=drop_lines(r"(?i)session handle|console|active|sequence")),
        S("session/channel-authcap", it("channel", "authcap", "1", "4")),
        S("session/getciphers", it("channel", "getciphers", "ipmi", "1")),
        S("session/sessionless-authcaps-v2", Udp(AUTH_CAPS_V2, "Get Channel Auth Caps (v2)")),
        S("session/sessionless-authcaps-v15",
          Udp(AUTH_CAPS_V15, "Get Channel Auth Caps (v1.5)")),
        S("session/asf-ping", Udp(ASF_PING, "ASF presence ping")),
        S("session/sessionless-device-id",
          Udp(SESSIONLESS_DEVICE_ID, "Get Device ID without a session", expect_reply=None)),
        S("session/garbage-dropped", Udp(b"\x06\x00\xff\x07\x99garbage", "garbage",
                                         expect_reply=False)),
        S("session/pyghmi-login", Pyghmi("raw", ("6", "1"))),
        S("session/freeipmi-lan20", fi("bmc-info", "--get-device-id", driver="LAN_2_0")),
        S("session/freeipmi-lan20-opensesspriv",
          fi("bmc-info", "--get-device-id", "-W", "opensesspriv", driver="LAN_2_0"),
          reference=False),
    ]


def errors() -> list[Scenario]:
    return [
        S("error/bad-password-lanplus", raw("0x06", "0x01", password="wrong", expect_ok=False)),
        S("error/bad-password-lan15",
          it15("raw", "0x06", "0x01", password="wrong", expect_ok=False)),
        S("error/unknown-user-lanplus",
          raw("0x06", "0x01", user="nobody", password="x", expect_ok=False)),
        S("error/unknown-user-lan15",
          it15("raw", "0x06", "0x01", user="nobody", password="x", expect_ok=False)),
        S("error/bad-password-freeipmi",
          fi("bmc-info", "--get-device-id", password="wrong", expect_ok=False)),
        S("error/bad-password-pyghmi", Pyghmi("raw", ("6", "1"), password="wrong",
                                              expect_ok=False)),
        S("error/user-cannot-power-on",
          it("chassis", "power", "on", privilege="USER", expect_ok=False, **VIEW), lock="power"),
        S("error/operator-cannot-set-user-name",
          it("user", "set", "name", "12", "intruder", privilege="OPERATOR", expect_ok=False,
             **OPER)),
        S("error/operator-cannot-set-lan",
          raw("0x0c", "0x01", "0x01", "0x07", "0x40", "0x40", "0x10", privilege="OPERATOR",
              expect_ok=False, **OPER)),
        S("error/unknown-command", raw("0x06", "0xff", expect_ok=False)),
        S("error/unknown-storage-command", raw("0x0a", "0xff", expect_ok=False)),
        S("error/chassis-control-no-data", raw("0x00", "0x02", expect_ok=False)),
        S("error/chassis-control-bad-action", raw("0x00", "0x02", "0x07", expect_ok=False)),
        S("error/set-boot-flags-short", raw("0x00", "0x08", "0x05", "0x80", expect_ok=False)),
        S("error/get-boot-options-short", raw("0x00", "0x09", "0x05", expect_ok=False)),
        S("error/get-lan-param-unsupported",
          raw("0x0c", "0x02", "0x01", "0xc0", "0x00", "0x00", expect_ok=False)),
        S("error/set-lan-param-read-only",
          raw("0x0c", "0x01", "0x01", "0x01", "0x00", expect_ok=False)),
        S("error/get-user-name-id-0", raw("0x06", "0x46", "0x00", expect_ok=False)),
        S("error/channel-info-no-channel", raw("0x06", "0x42", "0x05", expect_ok=False)),
        S("error/sel-entry-missing",
          raw("0x0a", "0x43", "0x00", "0x00", "0x34", "0x12", "0x00", "0xff", expect_ok=False)),
        S("error/fru-no-device", raw("0x0a", "0x10", "0x05", expect_ok=False)),
    ]


POWER_STATUS = it("chassis", "power", "status")
POWER_ON = it("chassis", "power", "on")
POWER_OFF = it("chassis", "power", "off")


def chassis() -> list[Scenario]:
    power = "power"
    return [
        S("chassis/status", POWER_OFF, it("chassis", "status"), lock=power,
          normalise=keep_lines(r"System Power|Power Overload|Main Power Fault|Chassis Intrusion")),
        S("chassis/power-on", it("chassis", "power", "on"), POWER_STATUS, lock=power),
        S("chassis/power-off", it("chassis", "power", "off"), POWER_STATUS, lock=power),
        S("chassis/power-cycle", POWER_ON, it("chassis", "power", "cycle"),
          Sleep(2.5), POWER_STATUS, lock=power),
        S("chassis/power-reset", POWER_ON, it("chassis", "power", "reset"), POWER_STATUS,
          lock=power),
        S("chassis/power-soft", POWER_ON, it("chassis", "power", "soft"), Sleep(1.5),
          POWER_STATUS, lock=power),
        S("chassis/power-diag", POWER_ON, it("chassis", "power", "diag"), lock=power),
        S("chassis/identify", it("chassis", "identify", "5")),
        S("chassis/capabilities", raw("0x00", "0x00")),
        S("chassis/policy-list", it("chassis", "policy", "list")),
        S("chassis/poh", it("chassis", "poh")),
        S("chassis/restart-cause", it("chassis", "restart_cause")),
        S("chassis/status-raw", POWER_OFF, raw("0x00", "0x01"), lock=power,
          normalise=first_bytes(1)),
        S("chassis/lan15-power-on", it15("chassis", "power", "on"), it15("chassis", "power",
                                                                        "status"), lock=power),
        S("chassis/ipmipower-lan15", fi("ipmipower", "--off"), fi("ipmipower", "--stat"),
          lock=power),
        S("chassis/ipmipower-lan20", fi("ipmipower", "--on", driver="LAN_2_0"),
          fi("ipmipower", "--stat", driver="LAN_2_0"), lock=power),
        S("chassis/ipmi-chassis-status", POWER_ON, fi("ipmi-chassis", "--get-chassis-status"),
          lock=power, normalise=keep_lines(r"System Power|Power overload|Main power fault")),
        S("chassis/pyghmi-power", Pyghmi("power", ("off", "wait")), Pyghmi("power"),
          lock=power),
        S("chassis/operator-power-on",
          it("chassis", "power", "on", privilege="OPERATOR", **OPER), POWER_STATUS, lock=power),
    ]


BOOT_FLAGS = it("chassis", "bootparam", "get", "5")
BOOT_DEVICE = keep_lines(r"Boot Device Selector|Options apply|Boot Flag|EFI|Legacy|Error")


def boot() -> list[Scenario]:
    # Boot flags are consumed by the next power-on or reset: boot scenarios and power
    # scenarios must not run at the same time.
    lock = "power"
    return [
        S("boot/bootdev-pxe", it("chassis", "bootdev", "pxe"), BOOT_FLAGS, lock=lock,
          normalise=BOOT_DEVICE),
        S("boot/bootdev-disk", it("chassis", "bootdev", "disk"), BOOT_FLAGS, lock=lock,
          normalise=BOOT_DEVICE),
        S("boot/bootdev-cdrom", it("chassis", "bootdev", "cdrom"), BOOT_FLAGS, lock=lock,
          normalise=BOOT_DEVICE),
        S("boot/bootdev-bios", it("chassis", "bootdev", "bios"), BOOT_FLAGS, lock=lock,
          normalise=BOOT_DEVICE),
        S("boot/bootdev-none", it("chassis", "bootdev", "none"), BOOT_FLAGS, lock=lock,
          normalise=BOOT_DEVICE),
        S("boot/bootdev-pxe-persistent", it("chassis", "bootdev", "pxe", "options=persistent"),
          BOOT_FLAGS, lock=lock, normalise=BOOT_DEVICE),
        S("boot/bootdev-pxe-efiboot", it("chassis", "bootdev", "pxe", "options=efiboot"),
          BOOT_FLAGS, lock=lock, normalise=BOOT_DEVICE),
        S("boot/flags-raw", raw("0x00", "0x08", "0x05", "0x80", "0x04", "0x00", "0x00", "0x00"),
          _boot_param(5), lock=lock),
        S("boot/param-0-set-in-progress", _boot_param(0), lock=lock),
        S("boot/param-4-info-ack", _boot_param(4), lock=lock),
        S("boot/pyghmi-network", Pyghmi("bootdev", ("network",)), lock=lock),
        # Set with ipmi-config: `ipmi-chassis --set-boot-flags` of FreeIPMI 1.6.10 rejects its own
        # defaults ("invalid parameters") before sending anything, against any BMC.
        S("boot/freeipmi-boot-flags",
          fi("ipmi-config", "--category=chassis", "--commit",
             "-e", "Chassis_Boot_Flags:Boot_Device=PXE"),
          fi("ipmi-chassis", "--get-boot-flags"), lock=lock,
          normalise=keep_lines(r"(?i)boot device|boot flags|BIOS boot type")),
    ]


def lan() -> list[Scenario]:
    lock = "lan"
    return [
        S("lan/print", it("lan", "print", "1"), lock=lock,
          normalise=drop_lines(r"^\s+:\s+(X|c|u|o|a|O)=")),
        S("lan/ip-address", _lan_param(3), lock=lock),
        S("lan/ip-source", _lan_param(4), lock=lock),
        S("lan/mac-address", _lan_param(5), lock=lock),
        S("lan/netmask", _lan_param(6), lock=lock),
        S("lan/gateway", _lan_param(12), lock=lock),
        S("lan/auth-type-support", _lan_param(1)),
        S("lan/auth-type-enables", _lan_param(2)),
        S("lan/cipher-suite-count", _lan_param(22)),
        S("lan/cipher-suite-privileges", _lan_param(24)),
        S("lan/set-netmask", it("lan", "set", "1", "netmask", "255.255.0.0"), _lan_param(6),
          lock=lock),
        S("lan/set-gateway", it("lan", "set", "1", "defgw", "ipaddr", "127.0.0.254"),
          _lan_param(12), lock=lock),
        S("lan/set-vlan", it("lan", "set", "1", "vlan", "id", "100"), _lan_param(20),
          lock=lock),
        S("lan/set-ip-header", raw("0x0c", "0x01", "0x01", "0x07", "0x40", "0x40", "0x10"),
          _lan_param(7), lock=lock),
        S("lan/set-in-progress-reserved",
          raw("0x0c", "0x01", "0x01", "0x00", "0x03", expect_ok=False), lock=lock),
        S("lan/pyghmi-net", Pyghmi("net"), lock=lock),
        S("lan/freeipmi-ip", fi("bmc-config", "--checkout", "--key-pair=Lan_Conf:IP_Address"),
          lock=lock),
        S("lan/cipher-suite-entries", _lan_param(23)),
    ]


def _serial_param(number: int) -> Ipmitool:
    return raw("0x0c", "0x11", "0x02", f"{number:#04x}", "0x00", "0x00")


def serial() -> list[Scenario]:
    """The serial/modem channel (2): Get Channel Info/Access and Serial/Modem Configuration."""
    lock = "serial"
    return [
        S("serial/channel-info", it("channel", "info", "2")),
        S("serial/channel-access", raw("0x06", "0x41", "0x02", "0x80")),
        S("serial/connection-mode", _serial_param(3), lock=lock),
        S("serial/messaging-comm-settings", _serial_param(7), lock=lock),
        S("serial/set-call-retry-interval", raw("0x0c", "0x10", "0x02", "0x12", "0x1e"),
          _serial_param(18), lock=lock),
        S("serial/reserved-bit-rate",
          raw("0x0c", "0x10", "0x02", "0x07", "0x00", "0x05", expect_ok=False), lock=lock),
        S("serial/freeipmi-serial-conf",
          fi("bmc-config", "--checkout", "-vv", "--section=Serial_Conf"), lock=lock),
    ]


def users() -> list[Scenario]:
    lock = "users"
    return [
        S("user/list", it("user", "list", "1"), lock=lock,
          normalise=keep_lines(r"^(ID|[2-9] |1[0-6] )")),
        S("user/summary", it("user", "summary", "1"), lock=lock),
        S("user/get-name-2", raw("0x06", "0x46", "0x02")),
        S("user/get-access-2", raw("0x06", "0x44", "0x01", "0x02")),
        S("user/set-name", it("user", "set", "name", "6", "alice"), raw("0x06", "0x46", "0x06"),
          lock=lock),
        S("user/new-user-logs-in",
          it("user", "set", "name", "7", "bob"), it("user", "set", "password", "7", "bobpw"),
          it("channel", "setaccess", "1", "7", "callin=on", "ipmi=on", "link=on",
             "privilege=3"),
          it("user", "enable", "7"),
          it("chassis", "identify", "1", user="bob", password="bobpw", privilege="OPERATOR"),
          lock=lock),
        S("user/disabled-user-refused",
          it("user", "set", "name", "8", "carol"), it("user", "set", "password", "8", "carolpw"),
          it("channel", "setaccess", "1", "8", "ipmi=on", "privilege=2"),
          it("user", "disable", "8"),
          raw("0x06", "0x01", user="carol", password="carolpw", expect_ok=False), lock=lock),
        S("user/test-right-password", it("user", "test", "2", "16", "secret")),
        S("user/test-wrong-password", it("user", "test", "2", "16", "nope", expect_ok=False)),
        S("user/pyghmi-users", Pyghmi("users"), lock=lock),
        S("channel/info", it("channel", "info", "1")),
        S("channel/info-system-interface", raw("0x06", "0x42", "0x0f")),
        S("channel/getaccess", it("channel", "getaccess", "1", "2"), lock=lock),
        S("channel/access-volatile", raw("0x06", "0x41", "0x01", "0x80")),
        S("channel/access-non-volatile", raw("0x06", "0x41", "0x01", "0x40")),
        S("channel/set-access-same",
          raw("0x06", "0x40", "0x01", "0x82", "0x84"), raw("0x06", "0x41", "0x01", "0x80")),
        S("channel/payload-support", raw("0x06", "0x4e", "0x01")),
        S("channel/pyghmi-access", Pyghmi("channel_access", ("1",))),
    ]


def sol() -> list[Scenario]:
    lock = "sol"
    return [
        S("sol/info", it("sol", "info", "1"), lock=lock),
        S("sol/enable-param", _sol_param(1), lock=lock),
        S("sol/auth-param", _sol_param(2)),
        S("sol/accumulate-param", _sol_param(3)),
        S("sol/retry-param", _sol_param(4)),
        S("sol/non-volatile-rate-param", _sol_param(5), lock=lock),
        S("sol/payload-channel-param", _sol_param(7)),
        S("sol/payload-port-param", _sol_param(8)),
        S("sol/disable-enable", it("sol", "set", "enabled", "false", "1"), _sol_param(1),
          it("sol", "set", "enabled", "true", "1"), _sol_param(1), lock=lock),
        S("sol/set-bit-rate", it("sol", "set", "non-volatile-bit-rate", "115.2", "1"),
          _sol_param(5), lock=lock),
        S("sol/payload-status", raw("0x06", "0x4a", "0x01")),
    ]


def platform() -> list[Scenario]:
    sel = "sel"
    return [
        S("mc/info", it("mc", "info")),
        S("mc/guid", it("mc", "guid")),
        S("mc/device-id-raw", raw("0x06", "0x01")),
        S("mc/selftest", it("mc", "selftest")),
        S("mc/watchdog-get", it("mc", "watchdog", "get")),
        S("mc/global-enables", it("mc", "getenables")),
        S("mc/device-guid", raw("0x06", "0x08")),
        S("mc/system-guid-raw", raw("0x06", "0x37")),
        S("mc/bmc-info-freeipmi", fi("bmc-info")),
        S("dcmi/discover", it("dcmi", "discover")),
        S("dcmi/mc-id-string", it("dcmi", "get_mc_id_string")),
        S("dcmi/power-limit", it("dcmi", "power", "get_limit")),
        S("dcmi/capability-freeipmi", fi("ipmi-dcmi", "--get-dcmi-capability-info")),
        S("sdr/repository-info", raw("0x0a", "0x20"), normalise=first_bytes(6),
          lock="sdr-write"),
        S("sdr/list", it("sdr", "list")),
        S("sdr/list-temp", it("sdr", "list"), normalise=TEMP_ONLY),
        S("sdr/type-temperature", it("sdr", "type", "Temperature")),
        S("sensor/list-temp", it("sensor", "list"), normalise=TEMP_ONLY),
        S("sensor/get-temp", it("sensor", "get", "Temp")),
        S("sensor/reading-1", raw("0x04", "0x2d", "0x01"), normalise=first_bytes(1)),
        S("sensor/thresholds-1", raw("0x04", "0x27", "0x01")),
        S("sensor/freeipmi", fi("ipmi-sensors", sdr_cache=True), normalise=TEMP_ONLY),
        S("sensor/pyghmi", Pyghmi("sensors", ("Temp",))),
        S("sel/info", it("sel", "info"), lock=sel,
          normalise=drop_lines(r"Free Space|Percent Used|Last (Add|Del) Time")),
        S("sel/add-list-clear",
          raw("0x0a", "0x44", "0x00", "0x00", "0x02", "0x00", "0x00", "0x00", "0x00", "0x20",
              "0x00", "0x04", "0x01", "0x01", "0x01", "0x57", "0x01", "0xff"),
          it("sel", "elist"), it("sel", "clear"), Sleep(0.5), raw("0x0a", "0x40"),
          lock=sel, normalise=first_bytes(3)),
        S("sel/time-get", it("sel", "time", "get")),
        S("sel/freeipmi", fi("ipmi-sel", sdr_cache=True), lock=sel),
        S("sel/pyghmi-event-log", Pyghmi("event_log"), lock=sel),
        S("fru/print", it("fru", "print", "0")),
        S("fru/area-info", raw("0x0a", "0x10", "0x00")),
        S("fru/read-header", raw("0x0a", "0x11", "0x00", "0x00", "0x00", "0x08")),
        S("fru/freeipmi", fi("ipmi-fru", "--device-id=0", sdr_cache=True)),
        S("fru/pyghmi-inventory", Pyghmi("inventory")),
    ]


def _lan6_set(*args: str) -> Ipmitool:
    return it("lan6", "set", "1", "nolock", *args)


PARTIAL_ADD_RECORD = ("0x00", "0x00", "0x02", "0x00", "0x00", "0x00", "0x00", "0x41", "0x00",
                      "0x04", "0x01", "0x01", "0x01", "0x57", "0x01", "0xff")


def completeness() -> list[Scenario]:
    """IPv6 LAN parameters and the smaller commands a server BMC answers (issue 12)."""
    lan6, sensor = "lan6", "sensor-1"
    return [
        S("lan6/print", it("lan6", "print", "1"), lock=lan6),
        S("lan6/support-param", _lan_param(50)),
        S("lan6/status-param", _lan_param(55)),
        S("lan6/static-address-param",
          raw("0x0c", "0x02", "0x01", "0x38", "0x00", "0x00"), lock=lan6),
        S("lan6/set-enables", _lan6_set("enables", "both"), _lan_param(51),
          _lan6_set("enables", "ipv4"), _lan_param(51), lock=lan6),
        S("lan6/bmc-config", fi("bmc-config", "--checkout", "-S", "Lan6_Conf"), lock=lan6),
        S("sensor/event-enable-set", raw("0x04", "0x28", "0x01", "0xc0"),
          raw("0x04", "0x29", "0x01"), lock=sensor),
        S("sensor/type-set-same", raw("0x04", "0x2e", "0x01", "0x01", "0x01"),
          raw("0x04", "0x2f", "0x01"), lock=sensor),
        S("sensor/reading-status-set", raw("0x04", "0x30", "0x01", "0x00"), lock=sensor),
        S("mc/acpi-power-state-set", raw("0x06", "0x06", "0x80", "0x80"), raw("0x06", "0x07")),
        S("mc/kcs-capabilities", raw("0x06", "0x57", "0x01")),
        S("mc/kcs-capabilities-freeipmi", fi("bmc-device", "--get-kcs-interface-capabilities")),
        S("mc/bt-capabilities", raw("0x06", "0x36", expect_ok=False)),
        S("mc/firewall-netfn-support", raw("0x06", "0x09", "0x0e")),
        S("mc/firewall-app-commands", raw("0x06", "0x0a", "0x0e", "0x06", "0x00")),
        S("mc/firewall-info", it("firewall", "info")),
        S("mc/i2c-fru-eeprom", it("i2c", "bus=0", "0xa0", "8", "0x00")),
        S("sel/partial-add-no-reservation",
          raw("0x0a", "0x45", "0x00", "0x00", "0x00", "0x00", "0x00", "0x01",
              *PARTIAL_ADD_RECORD, expect_ok=False), lock="sel"),
    ]


# An OEM SDR (type C0h, manufacturer 000157h): no client lists it, so others' views stay put.
OEM_SDR = ("0x00", "0x00", "0x51", "0xc0", "0x04", "0x57", "0x01", "0x00", "0x2a")


def newest() -> list[Scenario]:
    """SDR writes, K_G, PEF and LAN alerts (issue 12)."""
    sdr, pef = "sdr-write", "pef"
    return [
        S("sdr/add-oem-record", raw("0x0a", "0x24", *OEM_SDR), lock=sdr,
          normalise=first_bytes(0)),
        S("sdr/delete-no-reservation",
          raw("0x0a", "0x26", "0x00", "0x00", "0x01", "0x00", expect_ok=False), lock=sdr),
        S("sdr/partial-add-no-reservation",
          raw("0x0a", "0x25", "0x00", "0x00", "0x00", "0x00", "0x00", "0x01", *OEM_SDR,
              expect_ok=False), lock=sdr),
        S("sdr/clear-status-no-reservation",
          raw("0x0a", "0x27", "0x00", "0x00", "0x43", "0x4c", "0x52", "0x00", expect_ok=False),
          lock=sdr),
        S("sdr/update-mode", raw("0x0a", "0x2a"), raw("0x0a", "0x2b"), lock=sdr),
        S("sdr/init-agent-status", raw("0x0a", "0x2c", "0x00")),
        S("sdr/repository-time", raw("0x0a", "0x28"), normalise=first_bytes(0)),
        S("sdr/info-operations", it("sdr", "info"), lock=sdr,
          normalise=keep_lines(r"supported|Update Support")),
        S("session/kg-read", raw("0x06", "0x56", "0x01", "0x00", "0x01")),
        S("pef/capabilities", raw("0x04", "0x10")),
        S("pef/info", it("pef", "info"), lock=pef),
        S("pef/alert-string-keys", raw("0x04", "0x13", "0x0c", "0x00", "0x00"), lock=pef),
        S("pef/freeipmi-checkout", fi("ipmi-pef-config", "--checkout"), lock=pef),
        S("lan/alert-print", it("lan", "alert", "print", "1")),
    ]


def catalogue() -> list[Scenario]:
    scenarios = (sessions() + errors() + chassis() + boot() + lan() + serial() + users()
                 + sol()
                 + platform() + completeness() + newest())
    names = [s.name for s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"scenario names used twice: {sorted(duplicates)}")
    return scenarios
