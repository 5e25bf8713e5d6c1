"""Retention under UU PDP (Art. 16(2), 43-44): the schedule as configuration, when each artefact is due, and each
service's inventory of what it keeps.

    schedule = schedule_for(settings)                      # P3KE_RETENTION_SCHEDULE; production requires one
    due = due_at(schedule.rule(Kind.PACKAGE), {Trigger.PACKAGE_DOWNLOADED: downloaded_at,
                                               Trigger.AGREEMENT_ENDED: agreement_end(agreement)})
    due.at, due.reason_id()                                # None: nothing has started its period yet
"""

from .configured import DEFAULT_SCHEDULE, RETENTION_SCHEDULE_REQUIRED, retention_schedule_problems, schedule_for
from .due import Due, add_period, agreement_end, due_at, start_of_day
from .inventory import Artefact, ArtefactSource, Scheduled, inventory_of, schedule_artefacts
from .schedule import (
    KIND_TEXT,
    OWNERS,
    TRIGGER_TEXT,
    Kind,
    Period,
    Rule,
    Schedule,
    ScheduleError,
    Trigger,
    load_schedule,
    parse_schedule,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "KIND_TEXT",
    "OWNERS",
    "RETENTION_SCHEDULE_REQUIRED",
    "TRIGGER_TEXT",
    "Artefact",
    "ArtefactSource",
    "Due",
    "Kind",
    "Period",
    "Rule",
    "Schedule",
    "ScheduleError",
    "Scheduled",
    "Trigger",
    "add_period",
    "agreement_end",
    "due_at",
    "inventory_of",
    "load_schedule",
    "parse_schedule",
    "retention_schedule_problems",
    "schedule_artefacts",
    "schedule_for",
    "start_of_day",
]
