"""nbgrader's view of this repository: sources in solutions/, released notebooks in exercises/.

`autograder release` (or `nbgrader generate_assignment ASSIGNMENT` run here) reads this file.
Instructor working files (the gradebook, submissions) live in course/, outside git.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///course/gradebook.db"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
