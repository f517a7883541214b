"""GET /insights and /insights.json over real HTTP: the same numbers as /metrics, readable without script."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from prometheus_client.parser import text_string_to_metric_families


def metric_values(controller) -> dict[tuple[str, tuple], float]:
    text = controller.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_insights_count_what_metrics_count_and_time_the_decisions(stack, controller):
    names = [stack.start() for _ in range(4)]
    for name in names:
        controller.wait_for_pending(name)
    for name in names[:2]:
        assert controller.post(f"/approve/{name}").status_code == 200
    assert controller.post(f"/reject/{names[2]}").status_code == 200

    insights = controller.get("/insights.json").json()
    metrics = metric_values(controller)

    for outcome, count in insights["decisions"].items():
        assert metrics[("controller_decisions_total", (("outcome", outcome),))] == count
    assert insights["decisions"] == {"approved": 2, "rejected": 1, "expired": 0, "closed": 0}
    assert insights["pending"]["count"] == metrics[("controller_pending_requests", ())] == 1
    assert insights["pending"]["oldest_age_seconds"] > 0
    week = insights["windows"]["7d"]
    assert week["ended"] == 3 and week["expired"] == 0 and week["expiry_rate"] == 0
    assert 0 <= week["p50_seconds"] <= week["p90_seconds"]
    assert len(insights["per_day"]) == 30
    today = datetime.now(timezone.utc).date().isoformat()
    assert insights["per_day"][-1] == {
        "day": today,
        "approved": 2,
        "rejected": 1,
        "expired": 0,
        "closed": 0,
        "total": 3,
    }


def test_the_insights_page_draws_its_chart_inline_and_loads_nothing_else(stack, controller):
    name = stack.start()
    controller.wait_for_pending(name)
    controller.post(f"/approve/{name}")

    page = controller.get("/insights")

    assert page.status_code == 200
    assert "Waiting now</dt><dd>0</dd>" in page.text
    assert '<svg class="chart"' in page.text and page.text.count("<rect ") == 30
    today = datetime.now(timezone.utc).date().isoformat()
    assert f"<title>{today}: 1</title>" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert all(source.startswith(("/", "#")) for source in sources), sources


def test_with_nothing_decided_the_insights_say_so(controller):
    insights = controller.get("/insights.json").json()

    assert insights["windows"]["30d"] == {
        "p50_seconds": None, "p90_seconds": None, "ended": 0, "expired": 0, "expiry_rate": None
    }  # fmt: skip
    assert "no decision yet" in controller.get("/insights").text
