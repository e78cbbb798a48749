"""Hidden-state attention (MHA; seed 002): modern Hopfield attention layers that carry their
scores from layer to layer, and the rank-collapse metrics of token representations."""
from . import collapse
from .attention import HopfieldAttention, HopfieldAttentionStack

__all__ = ["HopfieldAttention", "HopfieldAttentionStack", "collapse"]
