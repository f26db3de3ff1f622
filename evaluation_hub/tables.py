"""Every table of the hub on one metadata (数据库表清单): the schema Alembic migrates to.

Each domain keeps its tables beside its code (``db.models``, ``db.seat_terminals``,
``audit.models``, ``evaluation.models``, ``supervision.models``,
``seats.models``, ``pool.models``, ``timers.models``, ``talkback.models``) and imports only
``evaluation_hub.db``; this module imports them all, so the migrations' environment
(``db/migrations/env.py``), ``create_all`` in tests and the migration drift test see the whole
schema. It lives above ``db`` and the domains, not inside ``db``, so that ``db`` imports no
domain package (no folder cycle). A new table module is added here.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from evaluation_hub.audit import models as audit_models
from evaluation_hub.db import models as directory_models
from evaluation_hub.db import seat_terminals
from evaluation_hub.db.base import Base
from evaluation_hub.evaluation import models as evaluation_models
from evaluation_hub.pool import models as pool_models
from evaluation_hub.seats import models as seat_delivery_models
from evaluation_hub.supervision import models as supervision_models
from evaluation_hub.talkback import models as talkback_models
from evaluation_hub.timers import models as timer_models

__all__ = ["MODEL_MODULES", "metadata"]

#: the modules whose tables make the schema, in dependency order
MODEL_MODULES = (
    directory_models,
    seat_terminals,
    audit_models,
    supervision_models,
    evaluation_models,
    seat_delivery_models,
    pool_models,
    timer_models,
    talkback_models,
)

metadata: MetaData = Base.metadata
