"""The keyless defaults: a rule-based drafter, clay previews and clay stills made here."""
