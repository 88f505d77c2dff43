"""The composition root: settings, wiring and the command line. The one place adapters meet."""
