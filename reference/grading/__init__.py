"""Grading a folder of submissions part by part: the folder, one submission's parts, the other kinds."""
