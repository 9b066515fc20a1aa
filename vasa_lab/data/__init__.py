"""Datasets and Lightning DataModules that serve clips to every later stage."""
