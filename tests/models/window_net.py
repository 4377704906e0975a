"""A Swin block as transformers writes it: the feature map rolled by half a window, cut into 7x7 windows batched
together through a 6-D permute (`reshape(-1, 49, c)`, so the exported graph multiplies the dynamic batch by the
window count), attention within each window (scaled_dot_product_attention, its output transposed, made contiguous
and reshaped) under the shifted-window mask that transformers numbers with int64 arithmetic, windows put back and
rolled back."""
import torch
from torch import nn


def shifted_window_mask(size: int, window: int = 7, shift: int = 3) -> torch.Tensor:
    """-100 between positions of a window that came from different regions of the rolled map (transformers'
    SwinLayer.get_attn_mask): (windows, window², window²)."""
    index = torch.arange(size)
    region = (index >= size - window).long() + (index >= size - shift).long()
    ids = (region[:, None] * 3 + region[None, :]).float()
    count = size // window
    ids = ids.reshape(count, window, count, window).permute(0, 2, 1, 3).reshape(count * count, window * window)
    difference = ids[:, None, :] - ids[:, :, None]
    return difference.masked_fill(difference != 0, -100.0)


class WindowNet(nn.Module):
    def __init__(self, width: int = 16, heads: int = 2):
        super().__init__()
        self.embed = nn.Conv2d(1, width, 2, 2)  # 14x14
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.projection = nn.Linear(width, width)
        self.head = nn.Linear(width, 10)
        self.heads = heads

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.embed(image).permute(0, 2, 3, 1)  # (n, 14, 14, c)
        n, h, w, c = x.shape
        x = torch.roll(x, (-3, -3), (1, 2))
        windows = x.reshape(n, 2, 7, 2, 7, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 49, c)
        q, k, v = (layer(windows).view(-1, 49, self.heads, c // self.heads).transpose(1, 2)
                   for layer in (self.query, self.key, self.value))
        mask = shifted_window_mask(h)[:, None].repeat(n, 1, 1, 1)  # (n * 4, 1, 49, 49)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        attended = attended.transpose(1, 2).contiguous().reshape(-1, 49, c)
        windows = windows + self.projection(attended)
        x = windows.reshape(n, 2, 2, 7, 7, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)
        x = torch.roll(x, (3, 3), (1, 2))
        return self.head(x.mean((1, 2)))


def build() -> WindowNet:
    torch.manual_seed(0)
    return WindowNet().eval()
