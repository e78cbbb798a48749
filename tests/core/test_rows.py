"""rowdot: the row-wise dot product the event checks use, for any operand layouts."""
import torch

from hopdyn._rows import rowdot


def test_rowdot_matches_the_sum_for_mixed_layouts():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 300, dtype=torch.float64, generator=g).T  # transposed, as a short softmax returns
    b = torch.randn(300, 5, dtype=torch.float64, generator=g)
    want = (a.contiguous() * b).sum(-1)
    for x, y in ((a, b), (b, a), (a.contiguous(), b)):
        torch.testing.assert_close(rowdot(x, y), want, rtol=1e-14, atol=1e-14)
