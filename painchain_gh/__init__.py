"""painchain-gh: the GitHub connector of PainChain, run as a one-shot sync."""

__version__ = "0.1.0"
