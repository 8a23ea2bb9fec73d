"""Renderers: they format results; they never compute them."""
