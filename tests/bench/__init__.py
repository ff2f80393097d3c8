"""`make bench`: Tilegate, MapProxy and a floor app side by side under the same gunicorn.

Run `python -m tests.bench --help`; docs/benchmark.md says what is measured and how to read it.
"""
