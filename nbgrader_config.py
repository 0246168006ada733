"""nbgrader's view of this repository: sources in solutions/, released notebooks in exercises/.

`autograder` finds the course from this file when run in this folder (or below it).
Instructor working files (submissions, graded notebooks and the gradebook,
course/gradebook.db unless `db_url` is set here or `--db` is given) live in course/,
outside git.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
