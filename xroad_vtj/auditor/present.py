"""How values look on the auditor's pages: times in Europe/Helsinki with the UTC offset shown, durations,
and the form's dates (a calendar day in Helsinki, ``to`` inclusive)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from xroad_vtj.audit.chain import parse_iso

HELSINKI = ZoneInfo("Europe/Helsinki")


def local(moment: datetime | str | None) -> str:
    """``2026-12-01 04:20:13 +02:00``: local time in Helsinki, to the second, with the offset."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = parse_iso(moment)
    at = moment.astimezone(HELSINKI)
    offset = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def local_day(day: date) -> str:
    return f"{day:%d.%m.}"


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def age(moment: datetime, now: datetime) -> timedelta:
    return max(now - moment, timedelta(0))


def human_age(delta: timedelta, lang: str) -> str:
    total = int(delta.total_seconds())
    minutes, hours, days = total // 60, total // 3600, total // 86400
    units = {"en": ("s", "min", "h", "d"), "fi": ("s", "min", "h", "vrk")}[lang]
    if total < 120:
        return f"{total} {units[0]}"
    if minutes < 120:
        return f"{minutes} {units[1]}"
    if hours < 48:
        return f"{hours} {units[2]}"
    return f"{days} {units[3]}"


def day_start(text: str) -> datetime | None:
    """A form's ``YYYY-MM-DD`` as midnight in Helsinki; empty is None. Raises ValueError on anything else."""
    if not text:
        return None
    return datetime.combine(date.fromisoformat(text), time(0), HELSINKI)


def day_end(text: str) -> datetime | None:
    """The (exclusive) end of a form's ``to`` day: the next midnight in Helsinki, so ``to`` is inclusive."""
    start = day_start(text)
    if start is None:
        return None
    return datetime.combine(start.date() + timedelta(days=1), time(0), HELSINKI)
