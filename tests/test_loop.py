"""The training loop's contracts: seeding leaves no trace, NaN fits and bad monitors fail loudly."""

from __future__ import annotations

import pytest
import torch

from autoenchorder.errors import ModelError
from autoenchorder.models.training import TrainSettings, seeded, train_module


def _data() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    return (x, y), (x[:8], y[:8])


def _mse(module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return ((module(batch[0]).squeeze(-1) - batch[1]) ** 2).mean()


def _mae(module: torch.nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
    with torch.no_grad():
        return {"val_mae": float((module(data[0]).squeeze(-1) - data[1]).abs().mean())}


def test_seeded_restores_the_global_random_state() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    expected_next = torch.rand(3)
    torch.random.set_rng_state(before)
    with seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream goes on untouched
    with seeded(7):
        assert torch.equal(torch.rand(3), inside)  # and the seed still decides what is inside


def test_seeded_restores_the_state_when_the_body_raises() -> None:
    before = torch.random.get_rng_state()
    with pytest.raises(RuntimeError), seeded(1):
        torch.rand(2)
        raise RuntimeError("boom")
    assert torch.equal(torch.random.get_rng_state(), before)


def test_all_nan_losses_are_an_error_not_silent_weights() -> None:
    train, val = _data()
    nan_train = (train[0], torch.full_like(train[1], float("nan")))
    nan_val = (val[0], torch.full_like(val[1], float("nan")))
    module = torch.nn.Linear(3, 1)
    with pytest.raises(ModelError, match="val_loss was not finite in any of 3 epoch"):
        train_module(
            module, _mse, nan_train, nan_val, TrainSettings(epochs=3, batch_size=8),
            seed=0, stage="linear", quiet=True,
        )  # fmt: skip


def test_a_finite_epoch_is_kept_when_later_ones_turn_nan() -> None:
    train, val = _data()
    calls = {"n": 0}

    def nan_after_the_first_epoch(module, batch):
        loss = _mse(module, batch)
        if not module.training:
            calls["n"] += 1
            if calls["n"] > 1:
                return loss * float("nan")
        return loss

    module = torch.nn.Linear(3, 1)
    history = train_module(
        module, nan_after_the_first_epoch, train, val, TrainSettings(epochs=3, batch_size=32),
        seed=0, stage="linear", quiet=True,
    )  # fmt: skip
    assert len(history) == 3 and all(torch.isfinite(p).all() for p in module.parameters())


@pytest.mark.parametrize(
    ("monitor", "metrics", "with_val", "named"),
    [
        ("val_maee", _mae, True, "'val_mae'"),
        ("val_acc", None, True, "'val_loss'"),
        ("val_loss", None, False, "'train_loss'"),
    ],
)
def test_a_misspelled_monitor_fails_before_any_training(monitor, metrics, with_val, named) -> None:
    train, val = _data()
    module = torch.nn.Linear(3, 1)
    start = [p.detach().clone() for p in module.parameters()]
    steps = {"n": 0}

    def counting_loss(m, batch):
        steps["n"] += int(m.training)
        return _mse(m, batch)

    with pytest.raises(ModelError, match=f"cannot monitor '{monitor}'.*{named}"):
        train_module(
            module, counting_loss, train, val if with_val else None,
            TrainSettings(epochs=2, batch_size=8, monitor=monitor),
            seed=0, stage="linear", metrics=metrics, quiet=True,
        )  # fmt: skip
    assert steps["n"] == 0
    assert all(torch.equal(a, b) for a, b in zip(start, module.parameters(), strict=True))


def test_a_bad_mode_fails_before_any_training() -> None:
    train, val = _data()
    with pytest.raises(ModelError, match="unknown mode 'minimum'"):
        train_module(
            torch.nn.Linear(3, 1), _mse, train, val,
            TrainSettings(epochs=1, mode="minimum"), seed=0, stage="linear", quiet=True,
        )  # fmt: skip


def test_a_metric_monitor_checked_upfront_still_trains() -> None:
    train, val = _data()
    history = train_module(
        torch.nn.Linear(3, 1), _mse, train, val,
        TrainSettings(epochs=2, batch_size=8, monitor="val_mae"),
        seed=0, stage="linear", metrics=_mae, quiet=True,
    )  # fmt: skip
    assert [h["epoch"] for h in history] == [1, 2] and "val_mae" in history[0]


def _fitted_linear() -> torch.nn.Linear:
    module = torch.nn.Linear(3, 1)
    with torch.no_grad():  # exactly the data's rule: any further step can only be worse
        module.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        module.bias.zero_()
    return module


def test_a_stage_that_keeps_its_start_never_leaves_the_model_worse() -> None:
    train, val = _data()
    noisy = (train[0], train[1] + torch.randn(32, generator=torch.Generator().manual_seed(1)))
    wild = TrainSettings(epochs=4, batch_size=8, lr=5.0, monitor="val_mae", patience=None)
    kept, moved = _fitted_linear(), _fitted_linear()
    start = {k: v.clone() for k, v in kept.state_dict().items()}
    for module, keep in ((kept, True), (moved, False)):
        settings = TrainSettings(**{**wild.__dict__, "keep_start": keep})
        history = train_module(
            module, _mse, noisy, val, settings, seed=0, stage="s", metrics=_mae, quiet=True
        )
        assert len(history) == 4  # the start is scored, not recorded as an epoch
    assert all(torch.equal(kept.state_dict()[k], v) for k, v in start.items())
    assert _mae(moved, val)["val_mae"] > _mae(kept, val)["val_mae"] == pytest.approx(0.0, abs=1e-6)
