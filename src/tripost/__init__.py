"""tripost: TriPosT (Yu et al., 2023) — teaching small language models to self-improve."""

__version__ = "0.1.0"
