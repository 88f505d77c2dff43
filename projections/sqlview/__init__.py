"""What every view is built on: its writes, its tables beside its tracking row, its projection.

``writes`` says what a view's write is and how a batch of them reaches the database;
``base`` is a view whichever database holds it, ``sqlite`` and ``postgres`` what each needs;
``projection`` applies events to a view; ``reading`` is what every view's queries share.
"""
