"""The .emu file (mc_add, sensor_add, main_sdr_add, mc_add_fru_data, ...) becomes [identity],
[[sensors]], [sel] and [fru] entries, or warnings naming their line."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pybmc.config.lanconf.document import Document, Table
from pybmc.config.lanconf.fru import parse_fru
from pybmc.config.lanconf.lexer import BMC_IPMB, Line, Notes, Skip, arg, c_int

WATCHDOG_SENSOR_TYPE = 0x23
THRESHOLD_READING = 0x01
SENSOR_SPECIFIC_READING = 0x6F
# IPMI threshold order (mask bit n, Get Sensor Thresholds byte n+1).
THRESHOLD_KEYS = ("lnc", "lc", "lnr", "unc", "uc", "unr")


# ====================================================================== .emu
@dataclass
class EmuSensor:
    line: Line
    lun: int
    number: int
    sensor_type: int
    reading_type: int
    value: int | None = None
    thresholds: dict[str, int] = field(default_factory=dict)  # key -> raw
    states: set[int] = field(default_factory=set)


class EmuTranslator:
    def __init__(self, doc: Document, notes: Notes, base_dir: Path) -> None:
        self.doc = doc
        self.notes = notes
        self.base_dir = base_dir
        self.bmc_ipmb = BMC_IPMB
        self.sensors: dict[int, EmuSensor] = {}
        self.sdrs: list[tuple[Line, bytes]] = []
        self.handlers: dict[str, Callable[[Line], None]] = {
            "mc_setbmc": self.mc_setbmc, "mc_add": self.mc_add,
            "mc_enable": self.ignored, "mc_disable": self.mc_lifecycle,
            "mc_delete": self.mc_lifecycle, "sel_enable": self.sel_enable,
            "sel_add": self.for_bmc(self.unsupported(
                "pybmc's SEL starts empty (and persists what is logged)")),
            "sensor_add": self.for_bmc(self.sensor_add),
            "sensor_set_value": self.for_bmc(self.sensor_set_value),
            "sensor_set_threshold": self.for_bmc(self.sensor_set_threshold),
            "sensor_set_bit": self.for_bmc(self.sensor_set_bit),
            "sensor_set_bit_clr_rest": self.for_bmc(self.sensor_set_bit),
            "sensor_set_hysteresis": self.for_bmc(self.unsupported(
                "pybmc derives hysteresis from [[sensors]] hysteresis (in the unit)")),
            "sensor_set_event_support": self.for_bmc(self.unsupported(
                "pybmc derives event support from the sensor type and thresholds")),
            "main_sdr_add": self.for_bmc(self.main_sdr_add),
            "device_sdr_add": self.unsupported("pybmc has no device SDRs (it is a BMC with an "
                                               "SDR repository)"),
            "mc_add_fru_data": self.for_bmc(self.fru_data),
            "mc_set_guid": self.unsupported("set the GUID with lan.conf's guid ([bmc] guid)"),
            "mc_set_power": self.unsupported("the power state comes from the power backend"),
            "mc_set_num_leds": self.unsupported("LEDs are not emulated"),
            "mc_dump_fru_data": self.ignored, "debug": self.ignored, "sleep": self.ignored,
            "quit": self.ignored,
            "persist": self.persist,
            "atca_enable": self.unsupported("ATCA/PICMG is not emulated"),
            "atca_set_site": self.unsupported("ATCA/PICMG is not emulated"),
        }

    # ---------------------------------------------------------------- driver
    def feed(self, line: Line) -> None:
        handler = self.handlers.get(line.tokens[0])
        try:
            if handler is None:
                raise Skip(f"unknown command {line.tokens[0]!r}")
            handler(line)
        except Skip as why:
            self.notes.warn(line, f"not translated: {_short(line.text)}: {why}")

    def finish(self) -> None:
        named = self._sdr_names()
        for number in sorted(self.sensors):
            sensor = self.sensors[number]
            try:
                self._sensor_entry(sensor, named.get(number))
            except Skip as why:
                self.notes.warn(sensor.line, f"sensor {number} not translated: {why}")

    def for_bmc(self, handler: Callable[[Line], None]) -> Callable[[Line], None]:
        """Commands whose first argument is an MC address; only the BMC's are translated."""
        def checked(line: Line) -> None:
            mc = c_int(arg(line, 1, "the MC address"), "MC address")
            if mc != self.bmc_ipmb:
                raise Skip(f"MC {mc:#04x} is not the BMC ({self.bmc_ipmb:#04x}); pybmc "
                           "emulates the BMC only")
            handler(line)
        return checked

    @staticmethod
    def unsupported(reason: str) -> Callable[[Line], None]:
        def handler(line: Line) -> None:
            raise Skip(reason)
        return handler

    @staticmethod
    def ignored(line: Line) -> None:
        """Commands with no effect on a translated config (mc_enable, debug, sleep...)."""

    # ---------------------------------------------------------------- MC
    def mc_setbmc(self, line: Line) -> None:
        self.bmc_ipmb = c_int(arg(line, 1, "the BMC address"), "BMC address")
        if self.bmc_ipmb != BMC_IPMB:
            self.notes.warn(line, f"the BMC is at {self.bmc_ipmb:#04x}; pybmc's is always at "
                                  f"{BMC_IPMB:#04x} (clients rarely care)")

    def mc_lifecycle(self, line: Line) -> None:
        raise Skip("MCs cannot be disabled or deleted in pybmc")

    def persist(self, line: Line) -> None:
        if arg(line, 1, "on/off").lower() in ("off", "false", "0", "no"):
            raise Skip("pybmc always persists what clients set (start with --reset-state to "
                       "forget it)")

    def mc_add(self, line: Line) -> None:
        if len(line.tokens) < 10:
            raise Skip("mc_add needs: address device-id sdrs revision fw-major fw-minor "
                       "device-support manufacturer product")
        ipmb = c_int(line.tokens[1], "MC address")
        if ipmb != self.bmc_ipmb:
            raise Skip(f"MC {ipmb:#04x} is not the BMC; pybmc emulates the BMC only")
        device_id = c_int(line.tokens[2], "device ID")
        revision = c_int(line.tokens[4], "device revision")
        major = c_int(line.tokens[5], "firmware major")
        minor = c_int(line.tokens[6], "firmware minor")
        support = c_int(line.tokens[7], "device support")
        identity = self.doc.table("identity")
        identity.set("device_id", device_id & 0xFF, line.where)
        identity.set("device_revision", revision & 0x0F)
        minor_text = f"{minor & 0xFF:02x}"
        if minor_text.isdigit():
            identity.set("firmware_version", f"{major & 0x7F}.{minor_text}",
                         "minor revision as BCD, as ipmi_sim sent it")
        else:
            self.notes.warn(line, f"firmware minor {minor:#04x} is not BCD; pybmc's "
                                  "firmware_version is major.minor in decimal; kept the default")
        identity.set("manufacturer_id", c_int(line.tokens[8], "manufacturer") & 0xFFFFF)
        identity.set("product_id", c_int(line.tokens[9], "product") & 0xFFFF)
        identity.notes.append(f"{line.where}: device support {support:#04x} in ipmi_sim; "
                              "pybmc advertises sensor, SDR, SEL, FRU, IPMB event receiver "
                              "and generator, and chassis support")
        if not support & 0x80:
            self.notes.warn(line, "without device support bit 0x80 ipmi_sim answered 0xC1 to "
                                  "every chassis command; pybmc always supports them")
        for option in line.tokens[10:]:
            if option not in ("dynsens", "persist_sdr"):
                self.notes.warn(line, f"mc_add option {option!r} is not known")

    def sel_enable(self, line: Line) -> None:
        mc = c_int(arg(line, 1, "the MC address"), "MC address")
        if mc != self.bmc_ipmb:
            raise Skip(f"MC {mc:#04x} is not the BMC")
        entries = c_int(arg(line, 2, "the entry count"), "entry count")
        capacity = min(max(entries, 16), 4095)
        if capacity != entries:
            self.notes.warn(line, f"SEL of {entries} entries: pybmc holds 16..4095; using "
                                  f"{capacity}")
        self.doc.table("sel").set("capacity", capacity, line.where)

    # ---------------------------------------------------------------- sensors
    def sensor_add(self, line: Line) -> None:
        lun = c_int(arg(line, 2, "the LUN"), "LUN")
        number = c_int(arg(line, 3, "the sensor number"), "sensor number")
        sensor_type = c_int(arg(line, 4, "the sensor type"), "sensor type")
        reading_type = c_int(arg(line, 5, "the event/reading type"), "event/reading type")
        if sensor_type == WATCHDOG_SENSOR_TYPE:
            self.doc.table("identity").notes.append(
                f"{line.where}: the watchdog sensor; pybmc always has its own Watchdog sensor")
            return
        if lun != 0:
            raise Skip(f"LUN {lun}: pybmc's sensors are all on LUN 0")
        if "poll" in line.tokens[6:]:
            self.notes.warn(line, "polled sensor (file/poll): pybmc's reading is the value "
                                  "set below, not the file's")
        self.sensors[number] = EmuSensor(line, lun, number, sensor_type, reading_type)

    def _sensor(self, line: Line) -> EmuSensor:
        number = c_int(arg(line, 3, "the sensor number"), "sensor number")
        if number not in self.sensors:
            raise Skip(f"sensor {number} was not added (or is the watchdog)")
        return self.sensors[number]

    def sensor_set_value(self, line: Line) -> None:
        self._sensor(line).value = c_int(arg(line, 4, "the value"), "value") & 0xFF

    def sensor_set_bit(self, line: Line) -> None:
        sensor = self._sensor(line)
        bit = c_int(arg(line, 4, "the bit"), "bit")
        if line.tokens[0] == "sensor_set_bit_clr_rest":
            sensor.states = {bit}
        elif c_int(arg(line, 5, "the value"), "value"):
            sensor.states.add(bit)
        else:
            sensor.states.discard(bit)

    def sensor_set_threshold(self, line: Line) -> None:
        sensor = self._sensor(line)
        mask = arg(line, 5, "the enabled mask")
        if len(mask) != 6 or set(mask) - {"0", "1"}:
            raise Skip(f"threshold mask {mask!r} is not 6 bits")
        values = [c_int(arg(line, 6 + i, "a threshold"), "threshold") for i in range(6)]
        # The mask and the values run from bit 5 (unr) down to bit 0 (lnc).
        sensor.thresholds = {THRESHOLD_KEYS[5 - i]: values[i] & 0xFF
                             for i in range(6) if mask[i] == "1"}

    def main_sdr_add(self, line: Line) -> None:
        data = bytes(c_int(t, "SDR byte") & 0xFF if not t.startswith("'") else ord(t[1])
                     for t in line.tokens[2:])
        if len(data) < 5:
            raise Skip("an SDR has at least a 5-byte header")
        if data[3] not in (0x01, 0x02):
            raise Skip(f"SDR type {data[3]:#04x}: pybmc builds its own SDR repository from "
                       "[[sensors]] (only sensor records are read, for names and units)")
        self.sdrs.append((line, data))

    def _sdr_names(self) -> dict[int, bytes]:
        records: dict[int, bytes] = {}
        for line, data in self.sdrs:
            if len(data) < 8 or data[5] != self.bmc_ipmb:
                self.notes.warn(line, "SDR for another owner or too short; not used")
                continue
            records[data[7]] = data
        return records

    def _sensor_entry(self, sensor: EmuSensor, sdr: bytes | None) -> None:
        item = self.doc.new_item("sensors")
        item.set("name", _sensor_name(sensor, sdr, self.notes), sensor.line.where)
        item.set("type", sensor.sensor_type)
        item.set("number", sensor.number)
        if sdr is not None and len(sdr) > 9:
            item.set("entity", sdr[8])
            item.set("entity_instance", max(sdr[9] & 0x7F, 1))
        if sensor.reading_type == THRESHOLD_READING:
            self._analog(item, sensor, sdr)
        else:
            self._discrete(item, sensor)

    def _analog(self, item: Table, sensor: EmuSensor, sdr: bytes | None) -> None:
        convert = Conversion.from_sdr(sdr) if sdr is not None and sdr[3] == 0x01 else None
        if convert is None:
            self.notes.warn(sensor.line, f"sensor {sensor.number}: no full SDR, so readings "
                                         "are translated as raw numbers (0..255)")
            convert = Conversion()
        low, high = sorted((convert.value(convert.raw_min), convert.value(convert.raw_max)))
        item.set("behaviour", "constant", "ipmi_sim's reading stays where it was set")
        if convert.unit:
            item.set("unit", convert.unit)
        item.set("nominal", convert.value(sensor.value or 0))
        item.set("min", low)
        item.set("max", high)
        item.set("noise", 0.0)
        thresholds = {k: convert.value(v) for k, v in sensor.thresholds.items()}
        ordered = [k for k in ("lnr", "lc", "lnc", "unc", "uc", "unr") if k in thresholds]
        if any(thresholds[a] > thresholds[b] for a, b in itertools.pairwise(ordered)):
            self.notes.warn(sensor.line, f"sensor {sensor.number}: thresholds out of order; "
                                         "not translated")
        elif thresholds:
            item.set("thresholds", {k: thresholds[k] for k in ordered})
        if sensor.value is None:
            item.notes.append(f"{sensor.line.where}: no sensor_set_value (ipmi_sim showed no "
                              "reading); nominal is raw 0")

    def _discrete(self, item: Table, sensor: EmuSensor) -> None:
        if not 0x02 <= sensor.reading_type <= 0x7F:
            raise Skip(f"event/reading type {sensor.reading_type:#04x} is not a discrete one "
                       "pybmc knows (0x02..0x7f)")
        item.set("behaviour", "static")
        item.set("reading_type", sensor.reading_type)
        states = sorted(s for s in sensor.states if 0 <= s <= 14)
        item.set("states", states)
        default = _supported_offsets(sensor.sensor_type) \
            if sensor.reading_type == SENSOR_SPECIFIC_READING else ()
        if not set(states) <= set(default):
            item.set("offsets", sorted({*default, *states}))

    # ---------------------------------------------------------------- FRU
    def fru_data(self, line: Line) -> None:
        device = c_int(arg(line, 2, "the FRU device ID"), "FRU device ID")
        size = c_int(arg(line, 3, "the size"), "size")
        if device != 0:
            raise Skip(f"FRU device {device}: pybmc has FRU device 0 only")
        image = self._fru_bytes(line)
        fru = self.doc.table("fru")
        clamped = min(max(size, 64), 4096)
        if clamped != size:
            self.notes.warn(line, f"FRU size {size}: pybmc's is 64..4096; using {clamped}")
        fru.set("size", clamped, line.where)
        try:
            areas = parse_fru(image)
        except ValueError as err:
            raise Skip(f"the FRU data is not a FRU image ({err}); pybmc's default FRU "
                       "contents are used") from None
        for name, fields in areas.items():
            table = self.doc.table(f"fru.{name}")
            for key, value in fields.items():
                table.set(key, value)
        unsupported = [a for a in ("internal", "multirecord") if image[{"internal": 1,
                                                                        "multirecord": 5}[a]]]
        if unsupported:
            self.notes.warn(line, f"FRU {' and '.join(unsupported)} area(s) not translated")

    def _fru_bytes(self, line: Line) -> bytes:
        kind = arg(line, 4, "data or file")
        if kind == "data":
            return bytes(c_int(t, "FRU byte") & 0xFF for t in line.tokens[5:])
        if kind != "file":
            raise Skip(f"FRU data kind {kind!r} is not data or file")
        offset = c_int(arg(line, 5, "the file offset"), "file offset")
        path = Path(arg(line, 6, "the file name"))
        for candidate in (path, self.base_dir / path) if not path.is_absolute() else (path,):
            if candidate.is_file():
                return candidate.read_bytes()[offset:]
        raise Skip(f"FRU file {path} cannot be read from here")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sensor_name(sensor: EmuSensor, sdr: bytes | None, notes: Notes) -> str:
    name = ""
    if sdr is not None:
        at = 47 if sdr[3] == 0x01 else 31
        if len(sdr) > at:
            length = sdr[at] & 0x1F
            name = sdr[at + 1:at + 1 + length].decode("latin-1").strip()
    if not name:
        notes.warn(sensor.line, f"sensor {sensor.number} has no SDR with a name; called "
                                f"'Sensor {sensor.number}'")
        return f"Sensor {sensor.number}"
    if len(name) < 3 or not name.isascii() or not name.isprintable():
        fixed = f"{name} {sensor.number}"[:16] if name.isprintable() else \
            f"Sensor {sensor.number}"
        notes.warn(sensor.line, f"sensor name {name!r} written as {fixed!r} (pybmc needs 3 to "
                                "16 printable ASCII characters)")
        return fixed
    return name


def _supported_offsets(sensor_type: int) -> tuple[int, ...]:
    try:
        from pybmc.wire.platform_codes import SUPPORTED_OFFSETS
    except ImportError:
        return ()
    return tuple(SUPPORTED_OFFSETS.get(sensor_type, ()))


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


@dataclass(frozen=True)
class Conversion:
    """A full sensor record's linear conversion y = (M x + B 10^Bexp) 10^Rexp."""

    m: int = 1
    b: int = 0
    b_exp: int = 0
    r_exp: int = 0
    signed: bool = False
    unit: int = 0

    @classmethod
    def from_sdr(cls, sdr: bytes) -> Conversion | None:
        if len(sdr) < 30:
            return None
        analog_format = sdr[20] >> 6
        return cls(m=_signed(sdr[24] | (sdr[25] & 0xC0) << 2, 10),
                   b=_signed(sdr[26] | (sdr[27] & 0xC0) << 2, 10),
                   b_exp=_signed(sdr[29] & 0x0F, 4), r_exp=_signed(sdr[29] >> 4, 4),
                   signed=analog_format == 2, unit=sdr[21])

    @property
    def raw_min(self) -> int:
        return 0x80 if self.signed else 0

    @property
    def raw_max(self) -> int:
        return 0x7F if self.signed else 0xFF

    def value(self, raw: int) -> float:
        x = _signed(raw, 8) if self.signed else raw
        return round((self.m * x + self.b * 10.0 ** self.b_exp) * 10.0 ** self.r_exp, 6)


