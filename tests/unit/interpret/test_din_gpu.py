"""DIN training and scoring on a CUDA GPU (skipped without one; deselected by default with -m 'not gpu').
Without a GPU, asking for one is refused with a clear error, and 'auto' trains on the CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.interpret.din.data import InteractionLog  # noqa: E402
from aria_actors.interpret.din.train import DinConfig, train_device, train_din  # noqa: E402


def _log() -> InteractionLog:
    rows = []
    for u in range(40):
        for j in range(12):
            item = (u * 7 + j * 5) % 30
            rows.append({"user": f"u{u}", "item": f"i{item}", "ts": 1_700_000_000 + u * 100 + j,
                         "category": "even" if item % 2 == 0 else "odd"})
    return InteractionLog.from_rows(rows)


def test_auto_picks_what_is_there_and_cuda_without_a_gpu_is_refused() -> None:
    assert train_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            train_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_din_trains_on_cuda_and_comes_back_as_a_cpu_model() -> None:
    trained = train_din(_log(), DinConfig(epochs=2, batch_size=256, device="cuda"))
    assert trained.metrics["device"].startswith("cuda")
    assert next(trained.model.parameters()).device.type == "cpu"
    assert 0.0 <= trained.metrics["test"]["auc"] <= 1.0
