"""How long approvals take and how many expire: GET /insights (a page, server-rendered, its chart inline SVG)
and GET /insights.json. The all-time counts and the pending request figures are the ones /metrics reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template

from controller.core import states
from controller.storage.records import DailyOutcomes
from controller.web import listing, pages

bp = Blueprint("insights", __name__)
WINDOW_DAYS = (7, 30)
CHART_DAYS = 30


def _since(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds")


def _window(quantiles: tuple[float | None, ...], days: list[DailyOutcomes]) -> dict[str, Any]:
    ended = sum(sum(day.counts.values()) for day in days)
    expired = sum(day.counts[states.EXPIRED] for day in days)
    return {
        "p50_seconds": quantiles[0],
        "p90_seconds": quantiles[1],
        "ended": ended,
        "expired": expired,
        "expiry_rate": expired / ended if ended else None,
    }


def _chart(days: list[DailyOutcomes]) -> list[dict[str, Any]]:
    """Return every one of the last CHART_DAYS days (UTC), oldest first, with its counts (0 on a quiet day)."""
    by_day = {day.day: day.counts for day in days}
    today = datetime.now(timezone.utc).date()
    shown = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    empty = dict.fromkeys(states.ENDED, 0)
    counted = [{"day": day.isoformat(), **by_day.get(day.isoformat(), empty)} for day in shown]
    return [{**day, "total": sum(day[state] for state in states.ENDED)} for day in counted]


def summary() -> dict[str, Any]:
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
def insights() -> Any:
    """Show how long decisions take, how many expire, and decisions per day."""
    found = summary()
    peak = max([1] + [day["total"] for day in found["per_day"]])
    return render_template("insights.html", insights=found, peak=peak, ended_states=states.ENDED)


@bp.get("/insights.json")
def insights_json() -> Any:
    """Return the insights as JSON (times in seconds, the expiry rate from 0 to 1, null when nothing ended)."""
    return jsonify(summary())


def init_app(app: Flask) -> None:
    """Serve the insights."""
    app.jinja_env.filters["duration"] = pages.duration
    app.register_blueprint(bp)
