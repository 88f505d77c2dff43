"""Read models built from the event log, and the reports and exports built on them.

Dependencies go one way, down this list (checked by ``lint-imports``, see pyproject.toml):

- ``audit``, ``backup``, ``admin``, ``rebuilding``: what the command line runs on the views;
- ``exports/``: one module per format, read through the ``Reader``;
- ``reader``: the one ``Reader`` api/ and the command line use, each view's queries together;
- ``runner``: keeps the views current (every view named once, in ``VIEWS``);
- ``registers/``, then ``books/``, ``monthly/``, ``log/``: a folder per view, with its tables,
  how each event changes them and the queries that read them, side by side (a project's
  page, in ``registers/``, reads its spending from ``books/``);
- ``sqlview/``: what every view is built on, on SQLite and PostgreSQL.

``calendar`` stands apart: the disclosure calendar, computed from dates alone.
"""
