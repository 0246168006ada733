"""The grading wing: collect submissions, run them in sandboxes, judge, record, report
(``autograder grade / export / report``; needs ``cnn-course[grade]``)."""
