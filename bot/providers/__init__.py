"""Adapters behind the domain ports: video, drafting and still makers, picked in registry.py."""
