"""Hidden-state attention (MHA; seed 002): modern Hopfield attention layers that carry their
scores from layer to layer (a drop-in for ``nn.MultiheadAttention`` among them), a pre-LN
Transformer block around them, and the rank-collapse metrics of token representations."""
from . import collapse
from .attention import HopfieldAttention, HopfieldAttentionStack, HopfieldMultiheadAttention, KVCache
from .block import HopfieldTransformerBlock

__all__ = ["HopfieldAttention", "HopfieldAttentionStack", "HopfieldMultiheadAttention", "HopfieldTransformerBlock",
           "KVCache", "collapse"]
