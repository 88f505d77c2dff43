"""``python -m bench [--scale small|full]``."""

from bench.run import main

main()
