"""Peer clients: the same mirror written the way other tools would, run in a venv of their own."""
