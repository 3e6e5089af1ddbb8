"""OpenAI-compatible endpoints: the prompt drafter (llm.py) and clay stills (stills.py)."""
