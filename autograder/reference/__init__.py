"""Instructor references, one module per lab topic (``01-backprop`` -> ``backprop.py``).

Each holds plain functions named as the ``ref=`` of the lab's checks; the judge
(autograder/judge.py) calls them in the grader's process on the same inputs the student's
kernel got. The sandbox never shows this folder to a student's kernel.
"""
