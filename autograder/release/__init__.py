"""Release: find the course, publish it (site, wheel, launch links) and release its
notebooks to students (``autograder release``, the book build, the bench)."""
