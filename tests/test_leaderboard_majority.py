from types import SimpleNamespace as NS

from emobench.leaderboard import majority


def _entry(model, score, low, high, complete=True, has_interval=True):
    return NS(model=model, score=score, complete=complete,
              ci=NS(low=low, high=high, has_interval=has_interval))


def _table(entries, greater=True):
    return NS(entries=entries, greater_is_better=greater, white_box=False, synthetic=True,
              title="d / t / p", metric="uar")


def test_an_interval_wholly_above_the_baseline_counts_and_one_touching_it_does_not():
    t = _table([_entry("mean", 0.25, 0.25, 0.25), _entry("a", 0.40, 0.30, 0.50),
                _entry("b", 0.35, 0.24, 0.46), _entry("c", 0.50, 0.30, 0.70, complete=False)])
    base, wins = majority.above(t)
    assert base == 0.25 and wins == ["a"]


def test_lower_is_better_metrics_need_the_upper_bound_below_the_baseline():
    t = _table([_entry("mean", 1.0, 1.0, 1.0), _entry("a", 0.7, 0.6, 0.8),
                _entry("b", 0.9, 0.7, 1.1)], greater=False)
    assert majority.above(t) == (1.0, ["a"])


def test_the_section_states_each_verdict():
    yes = _table([_entry("mean", 0.25, 0.25, 0.25), _entry("a", 0.4, 0.3, 0.5)])
    none = _table([_entry("mean", 0.25, 0.25, 0.25), _entry("a", 0.3, 0.2, 0.4)])
    nok = _table([_entry("mean", 0.25, 0.25, 0.25), _entry("a", 0.3, 0.0, 0.0, has_interval=False)])
    lines = "\n".join(majority.section(None, [yes, none, nok], None, set()))
    assert "yes: a" in lines and "| no " in lines and "k too small" in lines
