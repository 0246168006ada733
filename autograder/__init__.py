"""cnn-course autograder: student-facing checks, release and grading of the course notebooks."""

__version__ = "0.1.0"
