"""Who started a run, as `runs.trigger` records it: a closed set of labels."""

from enum import StrEnum


class Trigger(StrEnum):
    MANUAL = "manual"  # `rotwatch check` typed by someone
    RUN = "run"  # `rotwatch run` typed by someone (ingest, then check)
    DAEMON = "daemon"  # a job of `rotwatch daemon`
    CRON = "cron"  # a crontab line ($ROTWATCH_TRIGGER=cron, as docs/deploy/crontab sets)
    TIMER = "timer"  # a systemd timer (rotwatch-check.service sets it)


# What `--trigger` / $ROTWATCH_TRIGGER may say: the schedulers (a command's own default
# says manual or run).
EXTERNAL = (Trigger.MANUAL, Trigger.DAEMON, Trigger.CRON, Trigger.TIMER)
