"""The Redfish route table: every resource group's routes, in one explicit order.

Each resource module (one per group) declares its routes with the IPMI privilege each needs;
the service matches a request against this table.
"""

from __future__ import annotations

from pybmc.redfish import (
    accounts,
    bios,
    bios_registry,
    chassis,
    chassis_sensors,
    chassis_subsystems,
    events,
    log_services,
    manager_settings,
    managers,
    processors,
    registries,
    root,
    secure_boot,
    secure_boot_db,
    sessions,
    storage,
    system_nics,
    systems,
    tasks,
    virtual_media,
)
from pybmc.redfish.resource import Call, Route

__all__ = ["ROUTES", "Call", "Route"]

ROUTES: tuple[Route, ...] = (
    *root.ROUTES,
    *systems.ROUTES,
    *accounts.ROUTES,
    *managers.ROUTES,
    *manager_settings.ROUTES,
    *chassis.ROUTES,
    *chassis_sensors.ROUTES,
    *chassis_subsystems.ROUTES,
    *sessions.ROUTES,
    *events.ROUTES,
    *virtual_media.ROUTES,
    *tasks.ROUTES,
    *processors.ROUTES,
    *system_nics.ROUTES,
    *storage.ROUTES,
    *bios.ROUTES,
    *secure_boot.ROUTES,
    *secure_boot_db.ROUTES,
    *log_services.ROUTES,
    *bios_registry.ROUTES,
    *registries.ROUTES,
)
