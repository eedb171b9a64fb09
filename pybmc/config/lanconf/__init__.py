"""`pybmc import-lanconf`: translate an OpenIPMI ipmi_sim lan.conf (and its .emu) into pybmc TOML.

    text, warnings = translate_files(Path("lan.conf"), Path("ipmisim1.emu"))

The lan.conf language (OpenIPMI lanserv/config.c, lanserv_config.c): one directive per line,
tokens split on blanks, `"..."`/`'...'` strings, `$NAME` replaced by a `define`d value, `#`
starting a comment. The .emu language is the same, plus `\\` at the end of a line continuing it.

Every directive either becomes TOML (each value carries a comment naming the line it came from)
or a warning naming the line: nothing is silently dropped. A few files are fatal instead (no
`name`, no `addr`): pybmc cannot serve a BMC without them, and ipmi_sim refuses them too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pybmc.config.lanconf.document import Document
from pybmc.config.lanconf.fru import parse_fru
from pybmc.config.lanconf.lexer import LanConfError, Notes, read_lines, split_tokens
from pybmc.config.lanconf.parse_emu import EmuTranslator
from pybmc.config.lanconf.parse_lanconf import LanConfTranslator

__all__ = ["LanConfError", "Translation", "check_translation", "import_lanconf_command",
           "parse_fru", "split_tokens", "translate_files"]


# ====================================================================== entry points
@dataclass(frozen=True)
class Translation:
    toml: str
    warnings: tuple[str, ...]


def translate_files(lan_conf: Path, emu: Path | None = None) -> Translation:
    """Translate the files; raise LanConfError when no usable config can come out."""
    notes = Notes()
    doc = Document()
    doc.header = [
        f"pybmc config translated from {lan_conf}" + (f" and {emu}" if emu else "")
        + " by `pybmc import-lanconf`.",
        "Each value's comment names the line it came from; what could not be translated was",
        "printed as a warning naming its line. Check it with `pybmc check-config FILE`.",
        "Unlike ipmi_sim, users persisted by an earlier ipmi_sim run (users.mc20 in its state",
        "directory) are not read: the users below are the lan.conf's.",
    ]
    variables: dict[str, str] = {}
    lan = LanConfTranslator(doc, notes, lan_conf.parent)
    try:
        for line in read_lines(lan_conf, str(lan_conf), variables, notes, emu=False):
            lan.feed(line)
        lan.finish(str(lan_conf))
    except LanConfError as err:
        err.warnings = tuple(notes.items)  # what was found before, for the user to see
        raise
    if emu is None:
        notes.warn(None, "no .emu file given (--emu): identity, sensors, SEL and FRU take "
                         "pybmc's defaults")
    else:
        emulator = EmuTranslator(doc, notes, emu.parent)
        for line in read_lines(emu, str(emu), dict(variables), notes, emu=True):
            emulator.feed(line)
        emulator.finish()
    return Translation(doc.render(), tuple(notes.items))


def check_translation(text: str) -> str | None:
    """None if pybmc accepts the translated config, else its one-line error."""
    import tomllib

    from pybmc.config.bmc import ConfigError, parse_config

    try:
        data = tomllib.loads(text)
        config = parse_config(data, "<translated>")
        try:
            from pybmc.config.platform import check_platform_config
        except ImportError:
            return None
        check_platform_config(config)
    except (tomllib.TOMLDecodeError, ConfigError) as err:
        return str(err)
    return None


def import_lanconf_command(lan_conf: Path, emu: Path | None) -> int:
    """`pybmc import-lanconf LAN_CONF [--emu FILE]`: TOML on stdout, warnings on stderr.

    Exit status: 0 translated (warnings may have been printed), 1 translated but pybmc would
    refuse the result (printed anyway, with the reason), 2 nothing could be translated.
    """
    try:
        result = translate_files(lan_conf, emu)
    except LanConfError as err:
        for warning in err.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"pybmc: {err}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stdout.write(result.toml)
    problem = check_translation(result.toml)
    if problem is not None:
        print(f"pybmc: the translated config does not pass check-config: {problem}",
              file=sys.stderr)
        return 1
    return 0
