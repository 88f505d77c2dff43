"""The statutory statements of 民间非营利组织会计制度, built from the books view.

One module per statement (``balance_sheet`` 会民非01表, ``activities`` 会民非02表,
``cash_flows`` 会民非03表, ``notes`` 附注, ``ratios``), each a pure function from balances to
one JSON shape that every output renders (the command line, the API, XLSX, PDF, the public
page), so the figures are the same everywhere by construction. ``forms`` holds the forms'
lines as data; ``queries`` reads what the builders need from the view.
"""
