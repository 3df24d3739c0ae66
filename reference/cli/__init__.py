"""The command line: train, check and grade, each registering its own parser; main.py is the entry."""
