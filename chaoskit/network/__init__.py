"""The network seam: chaoskit's Toxiproxy-compatible server and, later, the client that drives it."""
