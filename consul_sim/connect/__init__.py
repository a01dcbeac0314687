"""Connect: each cluster's built-in certificate authority."""

from consul_sim.connect.ca import CARoot, ConnectCA

__all__ = ["CARoot", "ConnectCA"]
