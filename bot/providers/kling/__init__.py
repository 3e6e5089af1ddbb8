"""Kling: image-to-video (client.py) and image generation for clay stills (stills.py)."""
