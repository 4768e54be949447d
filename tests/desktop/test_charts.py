"""The Train view's charts on their own: every point drawn inside the axes, and axes that keep their range
from one epoch to the next (re-laying out an axis at every epoch was most of a redraw's cost)."""
from __future__ import annotations

import math

from core.models.heads import EpochEnded
from desktop.train.charts import RunCharts, _rounded_up


def epoch(i: int, phase: str = "head") -> EpochEnded:
    return EpochEnded(phase=phase, epoch=i, train_loss=2.4 / i, train_acc=0.5 + i / 100, val_loss=2.6 / i,
                      val_acc=0.45 + i / 100, images_per_s=100.0, eta_s=1.0)


def test_axis_ends_round_up_to_a_few_steps():
    assert [_rounded_up(v) for v in (0.8, 1.0, 1.2, 2.6, 4, 6, 7.5, 9, 11, 23, 51)] == \
        [1.0, 1.0, 1.5, 3.0, 5.0, 7.5, 7.5, 10.0, 15.0, 30.0, 75.0]


def test_every_point_is_inside_the_axes_which_change_range_only_now_and_then(qtbot):
    charts = RunCharts()
    qtbot.addWidget(charts)
    charts.resize(900, 300)
    charts.show()
    charts.start_live("Run 1")
    seen = []
    for i in range(1, 41):
        charts.add_epoch(epoch(i))
        charts._redraw()  # as the redraw timer does
        (loss_x, loss_y), (acc_x, acc_y) = charts.view_ranges()
        assert loss_x[0] <= 0 and loss_x[1] >= i and acc_x == loss_x
        assert loss_y[0] <= 0 and loss_y[1] >= 2.6 and acc_y[0] <= 0 and acc_y[1] >= 100
        seen.append((loss_x, loss_y))
    changes = sum(1 for before, after in zip(seen, seen[1:]) if before != after)
    assert 1 <= changes <= 6  # 40 epochs: the epoch axis grew a few times, the loss axis never
    assert math.isclose(seen[-1][0][1], 50, rel_tol=0.05)
