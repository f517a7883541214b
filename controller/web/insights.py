"""How long approvals take and how many expire: GET /insights (a page, server-rendered, its chart inline SVG)
and GET /insights.json. The all-time counts and the pending request figures are the ones /metrics reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TypedDict

from flask import Blueprint, Flask, jsonify, render_template
from flask.typing import ResponseReturnValue

from controller.core import states
from controller.storage.records import DailyOutcomes
from controller.web import listing, pages

bp = Blueprint("insights", __name__)
WINDOW_DAYS = (7, 30)
CHART_DAYS = 30


class Window(TypedDict):
    """Time to decision and expiry over the last days of a window."""

    p50_seconds: float | None
    p90_seconds: float | None
    ended: int
    expired: int
    expiry_rate: float | None


class PendingNow(TypedDict):
    count: int
    oldest_requested_at: str | None
    oldest_age_seconds: float | None


class Insights(TypedDict):
    """What GET /insights.json answers and the page shows."""

    pending: PendingNow
    decisions: dict[str, int]
    windows: dict[str, Window]
    per_day: list[dict[str, int | str]]  # "day", "total" and a count per ended state


def _since(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds")


def _window(quantiles: tuple[float | None, ...], days: list[DailyOutcomes]) -> Window:
    ended = sum(sum(day.counts.values()) for day in days)
    expired = sum(day.counts[states.EXPIRED] for day in days)
    return {
        "p50_seconds": quantiles[0],
        "p90_seconds": quantiles[1],
        "ended": ended,
        "expired": expired,
        "expiry_rate": expired / ended if ended else None,
    }


def _chart(days: list[DailyOutcomes]) -> list[dict[str, int | str]]:
    """Return every one of the last CHART_DAYS days (UTC), oldest first, with its counts (0 on a quiet day)."""
    by_day = {day.day: day.counts for day in days}
    today = datetime.now(timezone.utc).date()
    shown = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    empty = dict.fromkeys(states.ENDED, 0)
    chart: list[dict[str, int | str]] = []
    for day in shown:
        counts = by_day.get(day.isoformat(), empty)
        chart.append({"day": day.isoformat(), **counts, "total": sum(counts[state] for state in states.ENDED)})
    return chart


def summary() -> Insights:
    """Return the insights: pending now, decisions ever, and per window time to decision and expiry rate."""
    store = listing.open_store()
    try:
        pending, ended = store.pending_summary(), store.ended_counts()
        windows = {
            f"{days}d": _window(store.decision_quantiles(_since(days), (0.5, 0.9)), store.ended_per_day(_since(days)))
            for days in WINDOW_DAYS
        }
        chart = _chart(store.ended_per_day(_since(CHART_DAYS)))
    finally:
        store.close()
    oldest = pending.oldest_requested_at
    age = (datetime.now(timezone.utc) - datetime.fromisoformat(oldest)).total_seconds() if oldest else None
    return {
        "pending": {"count": pending.count, "oldest_requested_at": oldest, "oldest_age_seconds": age},
        "decisions": ended,
        "windows": windows,
        "per_day": chart,
    }


@bp.get("/insights")
def insights() -> str:
    """Show how long decisions take, how many expire, and decisions per day."""
    found = summary()
    peak = max([1] + [int(day["total"]) for day in found["per_day"]])
    return render_template("insights.html", insights=found, peak=peak, ended_states=states.ENDED)


@bp.get("/insights.json")
def insights_json() -> ResponseReturnValue:
    """Return the insights as JSON (times in seconds, the expiry rate from 0 to 1, null when nothing ended)."""
    return jsonify(summary())


def init_app(app: Flask) -> None:
    """Serve the insights."""
    app.jinja_env.filters["duration"] = pages.duration
    app.register_blueprint(bp)
