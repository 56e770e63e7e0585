"""Instructor side of the course: release, collect, grade (sandboxed, parallel, per check),
feedback, export, validate, demo and bench. `python -m autograder --help` lists them."""
