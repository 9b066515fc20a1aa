"""Real video -> tracked, aligned 25 fps clips in tar shards: ``python -m data_prep.prepare --input DIR --out DIR``.

A thin script: the work is :mod:`vasa_lab.data.prepare` (also ``vasa-lab prepare``, the same flags).
"""
import sys

from vasa_lab.data.prepare import main

if __name__ == "__main__":
    sys.exit(main())
