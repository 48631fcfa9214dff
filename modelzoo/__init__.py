"""The build pipeline around the converter: manifest, download, unpack, prepare, convert, verify.

`dodo.py` only asks `modelzoo.tasks` for doit tasks; every stage lives in its own module here.
"""
