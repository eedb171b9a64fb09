"""Master Write-Read (App NetFn 0x06, cmd 0x52, IPMI 2.0 section 22.11): the BMC's I2C buses.

The only device is the FRU EEPROM on private bus 0 (pybmc.model.platform.eeprom); anything
else, the public IPMB included, does not acknowledge (NAK on write, 83h).
"""

from __future__ import annotations

import logging

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model.platform.eeprom import NoDevice
from pybmc.wire.codes import NetFn, Privilege
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.bus")

table = CommandTable()

CC_NAK_ON_WRITE = 0x83
MAX_READ = 0x40  # what one transaction may read; more is 0xC9 (parameter out of range)


@table.command(NetFn.APP, 0x52, Privilege.OPERATOR, length=(3, 3 + MAX_READ))
def master_write_read(ctx: Context, data: bytes) -> bytes:
    private, bus, channel = bool(data[0] & 0x01), (data[0] >> 1) & 0x07, data[0] >> 4
    address, read_count, write = data[1] & 0xFE, data[2], data[3:]
    if read_count > MAX_READ:
        raise CommandError(0xC9, reason=f"read count {read_count} is over {MAX_READ}")
    if channel != 0:
        raise CommandError(CC_NAK_ON_WRITE, reason=f"no I2C bus on channel {channel}")
    try:
        result = ctx.platform.fru_eeprom.transfer(private, bus, address, write, read_count)
    except NoDevice as err:
        log.debug("%s: Master Write-Read: %s", ctx.name, err)
        raise CommandError(CC_NAK_ON_WRITE, reason=str(err)) from None
    if len(write) > ctx.platform.fru_eeprom.address_width():
        ctx.changes.mark()  # bytes went into the FRU (FruStore saved them)
    return result
