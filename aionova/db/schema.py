"""Versioned schema migrations. Append a new entry to change the schema; never edit one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aionova.db.engine import Engine

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE services (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            host TEXT NOT NULL, binary TEXT NOT NULL, topic TEXT,
            report_count INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0, disabled_reason TEXT,
            forced_down INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 0,
            last_seen_up TEXT, created_at TEXT, updated_at TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            UNIQUE (host, binary, deleted)
        );
        CREATE TABLE compute_nodes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE, host TEXT NOT NULL, hypervisor_hostname TEXT NOT NULL,
            vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL, local_gb INTEGER NOT NULL,
            vcpus_used INTEGER NOT NULL DEFAULT 0, memory_mb_used INTEGER NOT NULL DEFAULT 0,
            local_gb_used INTEGER NOT NULL DEFAULT 0, free_ram_mb INTEGER NOT NULL DEFAULT 0,
            free_disk_gb INTEGER NOT NULL DEFAULT 0, running_vms INTEGER NOT NULL DEFAULT 0,
            cpu_allocation_ratio REAL NOT NULL, ram_allocation_ratio REAL NOT NULL,
            disk_allocation_ratio REAL NOT NULL,
            created_at TEXT, updated_at TEXT, deleted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX compute_nodes_updated ON compute_nodes (updated_at);
        CREATE INDEX compute_nodes_host ON compute_nodes (host);
        CREATE TABLE flavors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            flavorid TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL,
            root_gb INTEGER NOT NULL DEFAULT 0, ephemeral_gb INTEGER NOT NULL DEFAULT 0,
            swap INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE images (
            id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,
            min_ram INTEGER NOT NULL DEFAULT 0, min_disk INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0, properties TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE instances (
            uuid TEXT PRIMARY KEY, display_name TEXT, project_id TEXT, user_id TEXT,
            image_ref TEXT, flavor TEXT,
            memory_mb INTEGER, vcpus INTEGER, root_gb INTEGER, ephemeral_gb INTEGER,
            vm_state TEXT NOT NULL, task_state TEXT, power_state INTEGER NOT NULL DEFAULT 0,
            host TEXT, node TEXT, launched_on TEXT, availability_zone TEXT, reservation_id TEXT,
            locked INTEGER NOT NULL DEFAULT 0, progress INTEGER NOT NULL DEFAULT 0,
            metadata TEXT NOT NULL DEFAULT '{}', system_metadata TEXT NOT NULL DEFAULT '{}',
            launched_at TEXT, terminated_at TEXT, created_at TEXT, updated_at TEXT,
            deleted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX instances_host ON instances (host, node);
        CREATE TABLE request_specs (
            instance_uuid TEXT PRIMARY KEY, spec TEXT NOT NULL
        );
        CREATE TABLE migrations (
            id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE,
            instance_uuid TEXT NOT NULL, source_compute TEXT, source_node TEXT,
            dest_compute TEXT, dest_node TEXT, dest_host TEXT,
            status TEXT NOT NULL, migration_type TEXT NOT NULL,
            created_at TEXT, updated_at TEXT, deleted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX migrations_source ON migrations (source_compute, status);
        CREATE TABLE instance_actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, instance_uuid TEXT NOT NULL,
            action TEXT NOT NULL, request_id TEXT NOT NULL, user_id TEXT, project_id TEXT,
            message TEXT, start_time TEXT, finish_time TEXT
        );
        CREATE INDEX instance_actions_req ON instance_actions (instance_uuid, request_id);
        CREATE TABLE instance_actions_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action_id INTEGER NOT NULL REFERENCES instance_actions (id),
            event TEXT NOT NULL, result TEXT, host TEXT, traceback TEXT,
            start_time TEXT, finish_time TEXT
        );
        CREATE INDEX instance_actions_events_action ON instance_actions_events (action_id);
        CREATE TABLE instance_faults (
            id INTEGER PRIMARY KEY AUTOINCREMENT, instance_uuid TEXT NOT NULL,
            code INTEGER NOT NULL, message TEXT NOT NULL, details TEXT, host TEXT,
            created_at TEXT
        );
        CREATE INDEX instance_faults_instance ON instance_faults (instance_uuid);
        """,
    ),
    (
        2,
        """
        ALTER TABLE services ADD COLUMN uuid TEXT;
        CREATE UNIQUE INDEX services_uuid ON services (uuid);
        CREATE INDEX migrations_instance ON migrations (instance_uuid, status);
        """,
    ),
    (
        3,
        """
        CREATE TABLE build_selections (
            instance_uuid TEXT PRIMARY KEY, host TEXT NOT NULL, node TEXT NOT NULL,
            created_at TEXT
        );
        CREATE INDEX build_selections_host ON build_selections (host);
        """,
    ),
    (
        4,
        """
        ALTER TABLE compute_nodes ADD COLUMN supported_instances TEXT NOT NULL DEFAULT '[]';
        """,
    ),
    (
        # Allocations: what the scheduler claimed for each instance on each node, checked
        # against the node's limits under its generation (placement's model); the
        # instances already placed keep theirs. Flavor names are unique, as in Nova.
        5,
        """
        CREATE TABLE allocations (
            instance_uuid TEXT NOT NULL, node_id INTEGER NOT NULL,
            host TEXT NOT NULL, node TEXT NOT NULL,
            memory_mb INTEGER NOT NULL, disk_gb INTEGER NOT NULL, vcpus INTEGER NOT NULL,
            created_at TEXT,
            PRIMARY KEY (instance_uuid, node_id)
        );
        CREATE INDEX allocations_node ON allocations (node_id);
        ALTER TABLE compute_nodes ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE compute_nodes ADD COLUMN reserved_memory_mb INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE compute_nodes ADD COLUMN reserved_disk_gb INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE compute_nodes ADD COLUMN reserved_vcpus INTEGER NOT NULL DEFAULT 0;
        INSERT INTO allocations
            (instance_uuid, node_id, host, node, memory_mb, disk_gb, vcpus, created_at)
        SELECT i.uuid, n.id, n.host, n.hypervisor_hostname, COALESCE(i.memory_mb, 0),
            COALESCE(i.root_gb, 0) + COALESCE(i.ephemeral_gb, 0), COALESCE(i.vcpus, 0),
            i.updated_at
        FROM instances i JOIN compute_nodes n
            ON n.host = i.host AND n.hypervisor_hostname = i.node AND n.deleted = 0
        WHERE i.deleted = 0;
        CREATE UNIQUE INDEX flavors_name ON flavors (name);
        ALTER TABLE flavors ADD COLUMN description TEXT;
        """,
    ),
]

LATEST = MIGRATIONS[-1][0]


async def current_version(engine: Engine) -> int:
    """The newest migration applied to an open database."""
    rows = await engine.fetch("SELECT MAX(version) FROM schema_version")
    return int(rows[0][0] or 0)
