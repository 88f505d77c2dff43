"""The files the fund receives, read into checked rows: parsing only, nothing recorded here."""
