"""The domain: events, ids, errors, configuration, the text of an event; no I/O."""
