"""Instructor side of the course: release, publish (the student edition), collect, grade
(sandboxed, parallel, per check), feedback, export, validate, demo and bench.
`python -m autograder --help` lists them. No package ships this folder: `make setup` puts
the repository on the venv's path."""
