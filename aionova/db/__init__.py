"""Storage: the ``ObjectStore`` on a database, with every query of the control plane.

``api.py`` (``Database``) binds the entity modules together: ``instances``,
``requests`` (request specs, build selections), ``actions`` (actions, events,
faults), ``hosts`` (services, compute nodes), ``catalog`` (flavors, images),
``migrations`` (migration records) and ``recovery`` (stuck work). They run portable
SQL on an ``Engine`` (``engine.py``); ``sqlite.py`` is the embedded one, ``schema.py``
the schema's versioned migrations.
"""

from aionova.db.api import Database, engine_for
from aionova.db.engine import Engine

__all__ = ["Database", "Engine", "engine_for"]
