"""The analyst bot: seeded, order-independent, delayed, a little noisy, never labels twice."""

from __future__ import annotations

from driftloop.simulation import (
    AnalystBot,
    AnalystConfig,
    DriftSchedule,
    SimulatorConfig,
    TransactionSimulator,
)


def events(n: int = 1000):  # type: ignore[no-untyped-def]
    return TransactionSimulator(SimulatorConfig(
        seed=7, rate=200, n_cards=500, n_merchants=300,
        drifts=DriftSchedule.parse("concept@10"))).take(n)


def test_samples_and_answers_exactly() -> None:
    bot = AnalystBot(AnalystConfig(seed=7))
    stream = events()
    for event in stream:
        bot.observe(event, 1000)
    assert bot.scheduled == 27  # 3% audit sample of 1,000
    answer = bot.request(stream[5].event_id, 2000)
    assert answer is not None
    assert (answer.due_ms, answer.label, answer.labelled_by) == (6898, 0, "analyst-bot-1")
    assert bot.request("unknown", 2000) is None and bot.unknown_requests == 1
    assert bot.request(stream[5].event_id, 2500) is None  # never labelled twice
    due = bot.due(10**12)
    assert len(due) == 28 and bot.waiting == 0
    assert due[0].record() == {"event_id": "s7-000000368", "label": 0,
                               "labelled_by": "analyst-bot-2", "labelled_at": 3115,
                               "entity_id": "c00132"}


def test_labels_wait_for_their_delay() -> None:
    bot = AnalystBot(AnalystConfig(seed=1, sample_rate=0.0, min_delay_s=2, max_delay_s=6))
    stream = events(50)
    for event in stream:
        bot.observe(event, 0)
        bot.request(event.event_id, 0)
    assert bot.due(1999) == []
    assert len(bot.due(6000)) == 50


def test_order_of_requests_does_not_change_answers() -> None:
    stream = events(300)
    answers = []
    for order in (stream, list(reversed(stream))):
        bot = AnalystBot(AnalystConfig(seed=3, sample_rate=0.0, noise=0.2))
        for event in stream:
            bot.observe(event, 0)
        for event in order:
            bot.request(event.event_id, 0)
        answers.append(sorted((d.event_id, d.label, d.due_ms) for d in bot.due(10**9)))
    assert answers[0] == answers[1]


def test_noise_flips_about_the_configured_share() -> None:
    bot = AnalystBot(AnalystConfig(seed=5, sample_rate=1.0, noise=0.05))
    for event in events(4000):
        bot.observe(event, 0)
    due = bot.due(10**9)
    flipped = sum(d.label != d.true_label for d in due)
    assert flipped == 207  # 5.2% of 4,000, exact for this seed


def test_capacity_limits_answers_per_second() -> None:
    bot = AnalystBot(AnalystConfig(seed=1, sample_rate=0.0, max_requests_per_s=10))
    stream = events(30)
    for event in stream:
        bot.observe(event, 0)
    answered = [bot.request(e.event_id, 500) for e in stream]
    assert sum(a is not None for a in answered) == 10 and bot.dropped_requests == 20


def test_cardholders_dispute_frauds_later_than_reviews() -> None:
    bot = AnalystBot(AnalystConfig(seed=7, sample_rate=0.0, dispute_rate=0.5,
                                   dispute_min_delay_s=5, dispute_max_delay_s=15))
    stream = events(5000)
    decisions = [d for e in stream if (d := bot.observe(e, 0)) is not None]
    frauds = [e.event_id for e in stream if e.positive]
    assert {d.reason for d in decisions} == {"dispute"}
    assert {d.event_id for d in decisions} <= set(frauds)
    assert 0.3 * len(frauds) <= len(decisions) <= 0.7 * len(frauds)
    assert all(5000 <= d.due_ms <= 15000 for d in decisions)
    again = AnalystBot(bot.config)
    assert [d for e in stream if (d := again.observe(e, 0)) is not None] == decisions
