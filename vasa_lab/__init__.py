"""vasa_lab: an open, teachable reproduction of VASA-1 (one portrait + one speech clip -> a talking-face video).

The package holds the code; the notebooks in ``notebooks/`` teach it chapter by chapter.
Stages, one folder each: ``world`` (the synthetic talking-head world), ``data`` (datasets and DataModules).
"""
__version__ = "0.1.0"
