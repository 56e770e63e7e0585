"""nbgrader configuration for this course (read by `nbgrader ...` run at the repository root
and by `python -m autograder`, which layers its own course directory on top).

Layout: solutions/<lab>/<lab>.ipynb are the SOURCE notebooks, labs/<lab>/<lab>.ipynb the
RELEASED ones; submissions, autograded copies, feedback and gradebook.db live in the course
directory (the repository root for plain nbgrader, `--course DIR` for the autograder CLI).
"""
c = get_config()  # noqa: F821  (injected by traitlets when this file is loaded)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Never show hidden tests in feedback (nbgrader's default feedback does show them).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]

# Per-cell limit when nbgrader itself executes a notebook; training cells in the labs ask
# for more through the autograder's limits (autograder/config.py).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.ExecutePreprocessor.timeout = 120
