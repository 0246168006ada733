"""checks._score: what a check's value is worth, part by part (issue 23)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks._score import PartResult, Score

PARTS = st.lists(
    st.builds(
        PartResult,
        name=st.sampled_from(["simple cases", "stride", "padding", "hidden random cases"]),
        points=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
        passed=st.sampled_from([True, False, None]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(parts=PARTS)
def test_a_score_is_the_passed_parts_and_what_did_not_run_only_while_nothing_failed(parts):
    score = Score(parts)
    passed = sum(p.points for p in parts if p.passed)
    not_run = sum(p.points for p in parts if p.passed is None)
    failed = any(p.passed is False for p in parts)
    assert float(score) == (passed if failed else passed + not_run)
    assert 0 <= float(score) <= score.max_points
    assert score.complete is not failed
    assert float(repr(score)) == float(score)  # what nbgrader reads from text/plain


def test_a_finished_notebook_shows_full_points_and_a_wrong_one_earns_nothing_hidden():
    visible = PartResult("simple cases", 3, True)
    hidden = PartResult("hidden random cases", 1, None)
    assert Score([visible, hidden]) == 4  # Validate compares this with the cell's points
    assert "depend on hidden cases" in Score([visible, hidden])._repr_html_()
    wrong = [PartResult("simple cases", 2, True), PartResult("stride", 1, False, "no"), hidden]
    assert Score(wrong) == 2
    assert "1 more from hidden cases" in Score(wrong)._repr_html_()
    graded = [visible, PartResult("hidden random cases", 1, False, "no")]
    assert Score(graded) == 3 and not Score(graded).complete
