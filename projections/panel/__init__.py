"""The panel's workbench: one query surface over the registers, and the warnings it would
otherwise script (``query``, ``checks``); the words for both in ``labels``."""
