"""The book builds strictly (every cell runs, no warning), every page in _toc.yml is in the
site, nothing from solutions/ leaks, and the numbers the text states are the computed ones."""

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from autograder.release.hosting import Hosting

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / "_build" / "html"
pytestmark = pytest.mark.slow
# The site as a course that set its one setting publishes it (the repository's own
# _config.yml leaves it unset: tests/test_sources.py covers that case).
PUBLISHED = {
    "repository": {"url": "https://github.com/Teach-Lab/cnn-course", "branch": "main"},
    "launch_buttons": {"jupyterhub_url": "https://hub.teach-lab.org"},
}


def published_config(folder: Path) -> tuple[Path, Hosting]:
    """_config.yml with the repository and hub set (its local extensions made absolute,
    since jupyter-book reads them relative to the config file)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    for key, values in PUBLISHED.items():
        config[key] |= values
    extensions = config["sphinx"]["local_extensions"]
    config["sphinx"]["local_extensions"] = {k: str(REPO / v) for k, v in extensions.items()}
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump(config))
    return path, Hosting.from_book_config(config)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Hosting]:
    return published_config(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def site(published):
    """A strict build: every page re-read (--all), warnings are errors, cells cached."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    config, _ = published
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--all", "-W", "--keep-going"]
        + ["--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return HTML


def toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + [chapter["file"] for chapter in toc["chapters"]]


def page_text(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


def pasted(html: str) -> list[str]:
    """The values myst-nb glued into the text, in order."""
    return re.findall(r'class="pasted-text">([^<]*)<', html)


def glued(page: str) -> dict:
    """What a page's code glued, by name (myst-nb keeps it beside the executed notebook)."""
    path = REPO / "_build" / "jupyter_execute" / f"{page}.glue.json"
    values = {}
    for name, output in json.loads(path.read_text()).items():
        text = output["data"].get("text/plain", "")
        try:
            values[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[name] = text
    return values


def stated(site: Path, page: str, name: str) -> str:
    """A glued value, checked to be pasted into the page's text."""
    value = str(glued(page)[name])
    assert value in pasted(page_text(site, page)), (page, name, value)
    return value


CHAPTERS = [
    "book/image-recognition",
    "book/nn-review",
    "book/conv-layers",
    "book/conv-stacking",
    "book/conv-speed",
]


def expected_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """The output size along one axis, as PyTorch's convolution gives it."""
    import torch
    import torch.nn.functional as F

    x, w = torch.zeros(1, 1, size, 1), torch.zeros(1, 1, kernel, 1)
    return F.conv2d(x, w, stride=(stride, 1), padding=(padding, 0)).shape[2]


def article(site: Path, page: str) -> BeautifulSoup:
    soup = BeautifulSoup(page_text(site, page), "html.parser")
    return soup.find("article") or soup


def prose(site: Path, page: str) -> str:
    """A page's text as a reader sees it, without its code and the code's printed output."""
    body = article(site, page)
    for node in body.select(".cell_input, .cell_output, pre, script, style"):
        node.decompose()
    return body.get_text(" ")


def test_every_toc_page_is_built(site):
    for page in toc_pages():
        assert (site / f"{page}.html").is_file(), page


def test_no_cell_errored(site):
    assert not list((site / "reports").glob("**/*.log")) if (site / "reports").exists() else True
    for page in toc_pages():
        html = page_text(site, page)
        assert "Traceback (most recent call last)" not in html, page
        assert "output error" not in html and 'class="output traceback' not in html, page


def test_solutions_never_reach_the_site(site):
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path


def test_exercise_notebooks_are_downloadable(site):
    html = page_text(site, "book/exercises")
    for name in ("nn-review", "conv-layers"):
        links = re.findall(rf'href="([^"]*{name}\.ipynb)"', html)
        assert links, name
        assert (site / "book" / links[0]).resolve().is_file()


def test_the_site_publishes_the_student_wheel(site, published):
    import zipfile

    _, hosting = published
    wheel = site / hosting.wheel_url.removeprefix(hosting.site_url)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    assert "autograder/checks/__init__.py" in names and "autograder/device.py" in names
    assert "Requires-Dist: torch>=2.1" in requires
    assert not [line for line in requires if "nbgrader" in line or "jupyter-book" in line]


def test_parameter_counts_in_the_text_are_computed(site):
    page = "book/conv-layers"
    values = pasted(page_text(site, page))
    assert stated(site, page, "fc_weights") == str(32 * 32 * 3)
    assert stated(site, page, "conv_weights") == str(5 * 5 * 3)
    assert values.index(str(32 * 32 * 3)) < values.index(str(5 * 5 * 3))
    fc_layer, conv_layer = 32 * 32 * 3 * 28 * 28 * 6 + 28 * 28 * 6, 6 * 3 * 5 * 5 + 6
    assert stated(site, page, "layer_fc") == f"{fc_layer:,}"
    assert stated(site, page, "layer_conv") == f"{conv_layer:,}"
    # fully connected -> locally connected (a 5x5x3 window and a bias per output) -> shared
    assert stated(site, page, "layer_local") == f"{28 * 28 * 6 * (5 * 5 * 3 + 1):,}"
    assert stated(site, page, "alex_conv") == f"{96 * 11 * 11 * 3 + 96:,}"
    assert stated(site, page, "alex_local") == f"{55 * 55 * 96 * (11 * 11 * 3 + 1):,}"
    assert "6×28×28" in values
    assert str(16 * 3 * 3 * 3 + 16) in values
    page = "book/conv-stacking"
    assert stated(site, page, "three_small") == f"{3 * (64 * 64 * 9 + 64):,}"
    assert stated(site, page, "one_large") == f"{64 * 64 * 49 + 64:,}"
    assert stated(site, page, "one_by_one_params") == str(8 * 4 + 4)
    assert stated(site, page, "q_1x1_params") == f"{256 * 64 + 64:,}"


def test_receptive_fields_and_equivariance_are_computed(site):
    page = "book/conv-stacking"
    # 3x3 kernels: +2 per layer at stride 1; a stride-2 first layer doubles later growth.
    assert [stated(site, page, f"rf_{d}") for d in (1, 2, 3)] == ["3", "5", "7"]
    assert [stated(site, page, f"rf_s2_{d}") for d in (1, 2, 3)] == ["3", "7", "11"]
    assert stated(site, page, "rf_second") == "8"  # conv 3x3, pool 2, conv 3x3
    values = glued(page)
    assert float(values["eq_s1"]) < 1e-4 and float(values["eq_s2_even"]) < 1e-4
    typical = float(values["eq_typical"])
    assert float(values["eq_s2_odd"]) > 0.1 * typical and float(values["eq_fc"]) > 0.1 * typical
    # zero padding: equivariant away from the border only, as the text says
    assert float(stated(site, page, "eq_zero_inside")) < 1e-4
    assert float(stated(site, page, "eq_zero_border")) > 0.1 * typical
    page = "book/conv-layers"
    # the AlexNet footnote: 224 without padding does not give 55, 227 does
    assert stated(site, page, "out_224_11_4_0") == str(expected_output_size(224, 11, 4, 0))
    assert stated(site, page, "out_227_11_4_0") == str(expected_output_size(227, 11, 4, 0)) == "55"
    # "stride 2 halves" is approximate
    assert stated(site, page, "out_33_5_2_2") == str(expected_output_size(33, 5, 2, 2))


def test_cnn_and_mlp_are_compared_by_error_rate_over_several_seeds(site):
    """Error rates with their spread over seeds, and the words about the gap chosen from them:
    never 'modest' or 'cannot tell apart' when the seeds' ranges do not overlap."""
    page = "book/conv-stacking"
    values = glued(page)
    errors = values["errors"]
    assert int(values["n_seeds"]) >= 3 and all(
        len(v) == int(values["n_seeds"]) for v in errors.values()
    )
    for model in ("cnn", "mlp"):
        runs = errors[model.upper()]
        assert stated(site, page, f"{model}_lo") == f"{min(runs):.1%}"
        assert stated(site, page, f"{model}_hi") == f"{max(runs):.1%}"
        assert stated(site, page, f"{model}_err") == f"{sum(runs) / len(runs):.1%}"
    cnn, mlp = errors["CNN"], errors["MLP"]
    separated = max(cnn) < min(mlp) or max(mlp) < min(cnn)
    assert values["seeds_separated"] is separated
    text = prose(site, page)
    assert "modest" not in text
    if separated:
        assert "do not overlap" in text and "cannot tell" not in text
    else:
        assert "ranges overlap" in text
    figure = article(site, page).select_one("img[alt*='test error rate']")
    assert figure is not None
    for model in ("cnn", "mlp"):
        for key in ("lo", "hi", "err"):
            assert str(values[f"{model}_{key}"]) in figure["alt"], (model, key)


def test_learning_rate_answer_is_ranked_by_final_loss(site):
    """The self-check's best rate is the one with the lowest final loss (accuracy ties), and
    one rate visibly diverges."""
    page = "book/nn-review"
    printed = " ".join(
        output.get_text() for output in article(site, page).select(".cell_output pre")
    )
    runs = re.findall(
        r"learning rate\s+([\d.]+): loss ([\d.]+) -> ([\d.]+) \(highest ([\d,.]+)\)", printed
    )
    assert len(runs) >= 3, printed[-2000:]
    final = {float(lr): float(last) for lr, _, last, _ in runs}
    assert float(stated(site, page, "best_lr")) == min(final, key=final.get)
    diverging = [
        lr for lr, first, last, peak in runs if float(peak.replace(",", "")) > 100 * float(first)
    ]
    assert diverging and float(stated(site, page, "diverging_lr")) == float(diverging[0])
    answers = article(site, page).select("section#self-check .dropdown")
    assert any(glued(page)["best_lr"] in answer.get_text() for answer in answers)


def test_speed_page_prose_answer_and_alt_text_come_from_the_measurement(site):
    """Every number the speed page states about its timings is computed from the timings it
    measured on this build (no assertion about the timings themselves)."""
    page = "book/conv-speed"
    values = glued(page)
    cpu = values["speed_measured"]["cpu"]
    small, big = cpu[32], cpu[64]
    expected = {
        "naive_ms": f"{small['naive'] * 1e3:.1f}",
        "fast_ms": f"{small['fast'] * 1e3:.2f}",
        "torch_ms": f"{small['F.conv2d'] * 1e3:.2f}",
        "naive_over_fast": f"{small['naive'] / small['fast']:.0f}",
        "fast_over_torch": f"{small['fast'] / small['F.conv2d']:.1f}",
        "growth_naive": f"{big['naive'] / small['naive']:.1f}",
        "growth_fast": f"{big['fast'] / small['fast']:.1f}",
        "growth_torch": f"{big['F.conv2d'] / small['F.conv2d']:.1f}",
    }
    body = article(site, page)
    sentence = next(p for p in body.find_all("p") if "On this build" in p.get_text())
    in_sentence = [span.get_text() for span in sentence.select("span.pasted-text")]
    alt = body.select_one("img")["alt"]
    for name, value in expected.items():
        assert str(values[name]) == value, name
        assert value in in_sentence, (name, value, in_sentence)
        if name != "fast_over_torch":
            assert value in alt, (name, value, alt)
    assert "{glue" not in alt
    answers = body.select("section#self-check .dropdown")
    assert expected["naive_over_fast"] in answers[-1].get_text()
    assert expected["growth_naive"] in answers[0].get_text()
    # the caption names grid lines: the figure is drawn on a log axis with one per decade
    assert "each grid line is ten times the one below" in body.get_text(" ")


def test_sentences_are_not_pasted_in_bold(site):
    page = "book/conv-speed"
    body = article(site, page)
    sentence = next(p for p in body.find_all("p") if "This build had" in p.get_text())
    for bold in sentence.select("span.pasted-text, strong, b"):
        assert "This build had" not in bold.get_text(), bold


def test_no_page_shows_stray_dollars_or_broken_lists(site):
    """Math that Markdown broke (a wrapped line starting with `+` becomes a list item) leaves a
    literal `$` in the page; and in the sources no list item starts while inline math is open."""
    for page in toc_pages():
        body = article(site, page)
        for node in body.select("span.math, div.math, pre, code, script, style, .cell_output"):
            node.decompose()
        text = body.get_text(" ")
        assert "$" not in text, (page, text[max(text.index("$") - 80, 0) : text.index("$") + 80])
        for item in body.find_all("li"):
            start = item.get_text(" ").strip()[:1]
            assert start not in set("+-*/=)^_"), (page, item.get_text()[:80])
    for path in (REPO / "book").glob("*.md"):
        for number, problem in stray_list_items(path.read_text(encoding="utf-8")):
            pytest.fail(f"{path.name}:{number}: {problem}")


def stray_list_items(markdown: str) -> list[tuple[int, str]]:
    """Lines that start a list item while an inline `$` of the same paragraph is still open."""
    problems, open_dollars, fence = [], 0, None
    for number, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if fence:
            fence = None if stripped.startswith(fence) and stripped.strip("`~") == "" else fence
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            open_dollars = 0
            continue
        if not stripped or stripped.startswith("$$"):
            open_dollars = 0
            continue
        if re.match(r"([-+*]|\d+[.)])\s", stripped) and open_dollars % 2:
            problems.append((number, f"list item inside inline math: {stripped[:60]!r}"))
        open_dollars += len(re.findall(r"(?<![\\$])\$(?!\$)", line))
    return problems


def test_the_stray_list_check_finds_the_old_wrapping_bug():
    broken = "With an odd kernel. If $(n\n+ 2P - K)$ is not a multiple of $S$, the last.\n"
    assert stray_list_items(broken)
    assert not stray_list_items(broken.replace("\n+", " +"))


def test_every_chapter_ends_with_at_least_five_self_check_questions(site):
    for page in CHAPTERS:
        body = article(site, page)
        section = body.select_one("section#self-check")
        assert section is not None, page
        assert section.find_next("section") is None, page  # it ends the chapter
        answers = section.select(".dropdown")
        assert len(answers) >= 5, (page, len(answers))


GENERIC_ALT = re.compile(r"(\.png|\.svg|\.jpe?g|^image$|^figure$|^_images)", re.I)


def test_every_figure_has_a_caption_alt_text_and_collapsed_plotting_code(site):
    for page in toc_pages():
        body = article(site, page)
        for image in body.find_all("img"):
            alt = (image.get("alt") or "").strip()
            assert len(alt) > 40 and not GENERIC_ALT.search(alt), (page, alt[:80])
            if (image.get("id") or "").startswith("_anim_img"):
                continue  # the animation: alt text, and its caption is the paragraph above it
            figure = image.find_parent("figure")
            assert figure is not None and figure.find("figcaption"), (page, alt[:60])
            assert len(figure.find("figcaption").get_text(strip=True)) > 40, (page, alt[:60])
            cell = image.find_parent(class_="cell")
            assert cell is not None and "tag_hide-input" in cell["class"], (page, alt[:60])


def test_output_sizes_in_the_text_are_computed(site):
    values = pasted(page_text(site, "book/conv-layers"))
    expected = [
        expected_output_size(32, 5, 1, 0),
        expected_output_size(32, 5, 1, 0),
        expected_output_size(32, 5, 1, 2),
        expected_output_size(32, 5, 1, 2),
        expected_output_size(7, 3, 2, 0),
        expected_output_size(7, 3, 3, 1),
        expected_output_size(224, 11, 4, 2),
    ]
    start = values.index(str(expected[0]))
    assert values[start : start + len(expected)] == [str(v) for v in expected]


def test_dataset_facts_come_from_one_sourced_table(site):
    """image-recognition keeps its dataset facts in one table with a source per row; the
    sentences, the self-check and the chart's alt text are computed from it, and the claim
    under the chart is true of it."""
    page = "book/image-recognition"
    rows = glued(page)["datasets_table"]
    facts = {
        (name, version): (year, classes, items) for name, version, year, classes, items, _ in rows
    }
    assert all(source.strip() for *_, source in rows)
    # the facts the issue checked against the papers
    assert facts[("PASCAL VOC", "2005")][:2] == (2005, 4)
    assert facts[("PASCAL VOC", "2007")][:2] == (2007, 20)
    assert facts[("ImageNet", "2009")] == (2009, 5_247, 3_200_000)
    assert facts[("ILSVRC", "2012")][1:] == (1_000, 1_281_167)
    assert 21_000 < facts[("ImageNet", "full, since 2011")][1] < 22_000
    assert facts[("Open Images", "V1")][:2] == (2016, 6_000)
    assert (
        facts[("Open Images", "V4")][0] == 2018
        and 19_000 < facts[("Open Images", "V4")][1] < 20_000
    )
    assert facts[("YouTube-8M", "2018")][:2] == (2018, 3_862)
    # the sentences: numbers computed from the table
    before = [c for (name, _), (year, c, _) in facts.items() if year < 2010 and name != "ImageNet"]
    since = [c for (year, c, _) in facts.values() if year >= 2010]
    assert stated(site, page, "most_before") == f"{max(before):,}"
    assert stated(site, page, "fewest_since") == f"{min(since):,}"
    assert stated(site, page, "imagenet_2009_classes") == "5,247"
    assert stated(site, page, "ilsvrc_classes") == "1,000"
    assert stated(site, page, "per_class") == f"{1_281_167 / 1000:,.0f}"
    assert stated(site, page, "voc_to_ilsvrc") == f"{1000 / 20:.0f}"
    assert stated(site, page, "youtube_classes") == "3,862"
    text = prose(site, page)
    assert "457" not in text and "openimages_per_class" not in glued(page)
    alt = next(i["alt"] for i in article(site, page).find_all("img") if "classes" in i["alt"])
    for name in ("most_before", "fewest_since", "imagenet_2009_classes"):
        assert str(glued(page)[name]) in alt, name


def test_history_is_one_story(site):
    """Neural networks date from the 1950s in both chapters that tell the history."""
    recognition = prose(site, "book/image-recognition")
    review = prose(site, "book/nn-review")
    assert "1958" in recognition and "1958" in review
    assert "had existed since the 1980s" not in recognition
    assert "2010–2012" in review or "2010-2012" in review


def test_whole_networks_are_traced_with_counts_that_add_up(site):
    """LeNet-5 and AlexNet traced layer by layer: every output shape, parameter count and
    multiply-add count against the formulas, computed here independently."""
    page = "book/conv-stacking"
    traces = glued(page)["traces"]
    lenet = {
        name.split()[0]: (shape, params, madds) for name, shape, params, madds in traces["LeNet-5"]
    }
    assert lenet["C1"] == ((6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25)
    assert lenet["S2"] == ((6, 14, 14), 0, 0)
    assert lenet["C3"] == ((16, 10, 10), 16 * 6 * 25 + 16, 16 * 10 * 10 * 6 * 25)
    assert lenet["C5"] == ((120, 1, 1), 120 * 16 * 25 + 120, 120 * 16 * 25)
    assert lenet["F6"] == ((84,), 120 * 84 + 84, 120 * 84)
    alex = {
        name.split()[0]: (shape, params, madds) for name, shape, params, madds in traces["AlexNet"]
    }
    assert alex["conv1"] == ((96, 55, 55), 96 * 3 * 121 + 96, 96 * 55 * 55 * 3 * 121)
    assert alex["conv2"] == ((256, 27, 27), 256 * 96 * 25 + 256, 256 * 27 * 27 * 96 * 25)
    assert alex["fc6"] == ((4096,), 9216 * 4096 + 4096, 9216 * 4096)
    rows = traces["AlexNet"]
    assert stated(site, page, "alex_most_params") == max(rows, key=lambda r: r[2])[0].split()[0]
    assert stated(site, page, "alex_most_madds") == max(rows, key=lambda r: r[3])[0].split()[0]
    total = sum(r[2] for r in rows)
    assert stated(site, page, "alex_params_m") == f"{total / 1e6:.1f}"
    c3 = traces["LeNet-5"][2]
    assert stated(site, page, "q_c3_madds") == f"{c3[3]:,}"


def test_layer_costs_are_computed(site):
    page = "book/conv-stacking"
    fc_params = 3072 * 4704 + 4704
    assert stated(site, page, "cost_conv_params") == f"{6 * 75 + 6:,}"
    assert stated(site, page, "cost_fc_params") == f"{fc_params:,}"
    conv_madds, fc_madds = 64 * 6 * 28 * 28 * 75, 64 * 3072 * 4704
    assert stated(site, page, "cost_madds_ratio") == f"{fc_madds / conv_madds:.0f}"
    alex_act, alex_params = 64 * 96 * 55 * 55, 96 * 363 + 96
    assert stated(site, page, "cost_alex_ratio") == f"{alex_act / alex_params:,.0f}"


def test_pooling_and_input_gradient_examples_hold(site):
    import torch

    page = "book/conv-stacking"
    block = torch.tensor([[1.0, 3], [4, 2]])
    assert stated(site, page, "pool_max_tl") == f"{block.max():.0f}"
    assert stated(site, page, "pool_avg_tl") == f"{block.mean():.1f}"
    printed = " ".join(
        o.get_text() for o in article(site, "book/conv-layers").select(".cell_output pre")
    )
    assert "full correlation with the rotated kernel equals it: True" in printed
    assert "with the kernel as it is, it does not: False" in printed
    assert "PyTorch's transposed convolution computes the same: True" in printed


def test_feature_map_text_matches_the_maps(site):
    """The count of black maps and the sentence about dead ones agree with the network."""
    page = "book/conv-stacking"
    values = glued(page)
    text = prose(site, page)
    assert "nearly all of it" not in text
    if int(values["n_dead"]):
        assert "died during training" in text
    else:
        assert "none of the maps is black for every test digit" in text


def test_book_code_uses_b_only_for_the_bias():
    """No chapter uses b as an index or loop variable (u, v are the kernel offsets)."""
    for path in (REPO / "book").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"for\s+(\([^)]*)?\bb\b[^:]*\bin\b",
            r"\[[^\]\n]*,\s*b\]",
            r"_\{b'?=",
            r"\bb'",
        ):
            match = re.search(pattern, text)
            assert match is None, (path.name, match and text[match.start() - 40 : match.end() + 20])


def test_figures_and_animation_are_in_the_pages(site):
    conv = page_text(site, "book/conv-layers")
    assert conv.count("<img") >= 5
    assert page_text(site, "book/conv-stacking").count("<img") >= 8
    assert "animation" in conv and "data:image/png;base64" in conv
    assert page_text(site, "book/nn-review").count("<img") >= 2
    assert page_text(site, "book/image-recognition").count("<img") >= 1


def test_self_check_answers_are_hidden_until_revealed(site):
    for page in CHAPTERS:
        assert "dropdown" in page_text(site, page), page


# -- the built site in a real browser (Debian's chromium, driven by Playwright) ---------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def served(site):
    """The site on a local HTTP server, as readers get it."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, width: int = 1280, height: int = 900):
    """A page at ``url`` with the console errors and failed local requests it produced."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    local = url.split("/book/")[0].split("/index.html")[0]
    page.on(
        "requestfailed",
        lambda r: problems.append(f"failed: {r.url}") if r.url.startswith(local) else None,
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status}: {r.url}")
            if r.url.startswith(local) and r.status >= 400
            else None
        ),
    )
    page.goto(url, wait_until="networkidle")
    return page, problems


def page_url(served: str, page: str) -> str:
    return f"{served}/{page}.html"


def test_every_page_loads_cleanly_with_images_and_math(browser, served):
    for name in toc_pages():
        page, problems = open_page(browser, page_url(served, name))
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        broken = page.evaluate(
            "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
        )
        assert broken == [], (name, broken)
        assert problems == [], (name, problems)
        if 'class="math' in page_text(HTML, name):
            page.wait_for_selector("mjx-container", state="attached", timeout=20000)
            assert page.locator("mjx-container").count() > 0, name
            assert page.locator(".math:not(:has(mjx-container))").count() == 0, name
        page.close()


def test_next_and_previous_navigation_follow_the_table_of_contents(browser, served):
    pages = toc_pages()
    page, _ = open_page(browser, page_url(served, pages[0]))
    for expected in pages[1:]:
        page.locator("a.right-next").first.click()
        page.wait_for_load_state()
        assert page.url.endswith(f"{expected}.html"), (page.url, expected)
    for expected in reversed(pages[:-1]):
        page.locator("a.left-prev").first.click()
        page.wait_for_load_state()
        assert page.url.endswith(f"{expected}.html"), (page.url, expected)
    page.close()


def test_internal_links_resolve_and_exercise_notebooks_download(browser, served):
    import nbformat

    seen: set[str] = set()
    for name in toc_pages():
        page, _ = open_page(browser, page_url(served, name))
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
        for href in hrefs:
            target = href.split("#")[0]
            if target.startswith(served) and target not in seen:
                seen.add(target)
                response = page.request.get(target)
                assert response.ok, (name, href, response.status)
                if target.endswith(".ipynb"):
                    nbformat.validate(nbformat.reads(response.text(), as_version=4))
        page.close()
    assert sum(t.endswith(".ipynb") for t in seen) >= 2, "both exercise notebooks are linked"


def test_exercises_page_links_each_notebook_from_the_one_setting(browser, served, published):
    _, hosting = published
    page, problems = open_page(browser, page_url(served, "book/exercises"))
    boxes = page.locator(".notebook-links")
    assert boxes.count() == 2
    for box, assignment in zip(boxes.all(), ("nn-review", "conv-layers"), strict=True):
        path = f"exercises/{assignment}/{assignment}.ipynb"
        links = box.evaluate("b => [...b.querySelectorAll('a')].map(a => [a.innerText, a.href])")
        labels = [label for label, _ in links]
        assert labels == [
            f"Download {assignment}.ipynb",
            "Open in Colab",
            "Open on Binder",
            "Open on JupyterHub",
        ]
        hrefs = dict(links)
        assert hrefs[f"Download {assignment}.ipynb"].startswith(served)
        assert hrefs[f"Download {assignment}.ipynb"].endswith(f"/{assignment}.ipynb")
        assert hrefs["Open in Colab"] == hosting.colab_link(path)
        assert hrefs["Open on Binder"] == hosting.binder_link(path)
        assert hrefs["Open on JupyterHub"] == hosting.jupyterhub_link(path)
        assert all(url.startswith(("http://127.0.0.1", "https://")) for url in hrefs.values())
    assert problems == []
    page.close()


def test_no_page_links_to_a_placeholder_or_example_domain(site):
    for path in site.rglob("*.html"):
        for url in re.findall(r'href="(https?://[^"]+)"', path.read_text(encoding="utf-8")):
            assert not re.search(r"example\.(com|org|edu|net)|your-org", url), (path, url)


def set_explorer_field(explorer, field: str, value: int) -> None:
    box = explorer.locator(f"input[data-field={field}]")
    box.fill(str(value))
    box.dispatch_event("input")


def test_explorer_responds_and_explains_invalid_settings(browser, served):
    page, problems = open_page(browser, page_url(served, "book/conv-layers"))
    explorer = page.locator(".conv-explorer")
    set_field = functools.partial(set_explorer_field, explorer)
    for field, value in {"n": 8, "k": 3, "s": 2, "p": 1, "cin": 3, "cout": 5}.items():
        set_field(field, value)
    assert explorer.get_attribute("data-output-size") == str(expected_output_size(8, 3, 2, 1))
    assert "5 × 4 × 4" in explorer.locator(".cx-size").inner_text()
    assert explorer.locator("[data-count=conv]").inner_text() == f"{5 * 3 * 3 * 3 + 5:,}"
    assert explorer.locator("[data-channel]").count() == 3  # C_in input slices
    assert explorer.locator("[data-map]").count() == 5  # C_out output maps
    assert explorer.locator("[data-kernel]").count() == 3  # the current filter, per channel
    before = explorer.locator(".cx-done").count()
    explorer.locator("button[data-action=step]").click()
    assert explorer.locator(".cx-done").count() == before + 1
    explorer.locator("button[data-action=play]").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(1200)
    assert explorer.locator(".cx-done").count() >= before + 2
    page.keyboard.press("Enter")  # pause
    set_field("k", 12)
    assert "larger than the padded input" in explorer.locator(".cx-message").inner_text()
    assert explorer.get_attribute("data-output-size") == ""
    assert explorer.get_attribute("data-output") == ""
    set_field("k", 3)
    set_field("s", 4)  # (8 + 2 - 3) = 7 is not a multiple of 4
    assert "not a multiple" in explorer.locator(".cx-message").inner_text()
    set_field("cin", 40)  # every value is drawn, so the channels are kept few
    assert "at most" in explorer.locator(".cx-message").inner_text()
    assert explorer.get_attribute("data-output") == ""
    assert problems == []
    page.close()


def shown(values) -> list[str]:
    """Numbers as the explorer writes them (a real minus sign)."""
    return [str(int(v)).replace("-", "\N{MINUS SIGN}") for v in values]


def cell_texts(explorer, selector: str) -> list[str]:
    """The numbers in SVG cells (which have no innerText)."""
    return explorer.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent)")


def test_explorer_values_agree_with_torch_conv2d(browser, served, axe_script):
    """For random settings typed in, the input, kernels and biases the explorer draws give the
    output it draws under torch's F.conv2d, step by step: the output cells computed so far, the
    current step's products per channel (the window is in the right place) and its sum."""
    import random

    import torch
    import torch.nn.functional as F

    page, problems = open_page(browser, page_url(served, "book/conv-layers"))
    explorer = page.locator(".conv-explorer")
    rng = random.Random(12)
    settings = [{"n": 5, "k": 3, "s": 1, "p": 1, "cin": 2, "cout": 2}]
    while len(settings) < 8:
        n, k, s, p = rng.randint(1, 9), rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 2)
        cin, cout = rng.randint(1, 4), rng.randint(1, 4)
        if k <= n + 2 * p:
            settings.append({"n": n, "k": k, "s": s, "p": p, "cin": cin, "cout": cout})
    for number, setting in enumerate(settings):
        for field, value in setting.items():
            set_explorer_field(explorer, field, value)
        if number % 3 == 2:
            explorer.locator("button[data-action=shuffle]").click()
        n, k, s, p, cin, cout = setting.values()
        data = explorer.evaluate("e => ({...e.dataset})")
        x, w, b, y = (
            torch.tensor(json.loads(data[key]), dtype=torch.float64)
            for key in ("input", "weight", "bias", "output")
        )
        assert x.shape == (cin, n, n) and w.shape == (cout, cin, k, k) and b.shape == (cout,)
        assert x.min() >= 0 and x.max() <= 9 and w.abs().max() <= 9, setting  # small integers
        expected = F.conv2d(x[None], w, b, stride=s, padding=p)[0]
        assert torch.equal(y, expected), (setting, y, expected)

        # What is drawn: each padded input slice, the current filter's slices, the outputs.
        padded = F.pad(x, (p, p, p, p))
        for c in range(cin):
            cells = cell_texts(explorer, f"[data-channel='{c}'] text")
            assert cells == shown(padded[c].flatten()), (setting, c)
        steps = rng.randint(0, min(7, expected.numel() - 1))
        for _ in range(steps):
            explorer.locator("button[data-action=step]").click()
        o, i, j = (int(v) for v in torch.unravel_index(torch.tensor(steps), expected.shape))
        for c in range(cin):
            cells = cell_texts(explorer, f"[data-kernel='{c}'] text")
            assert cells == shown(w[o, c].flatten()), (setting, o, c)
        drawn = cell_texts(explorer, "[data-map] text")
        flat = shown(expected.flatten())
        assert drawn == flat[: steps + 1] + [""] * (len(flat) - steps - 1), setting
        assert explorer.locator(".cx-value").inner_text() == flat[steps]
        # each channel's listed products are the window times the kernel slice
        terms = explorer.locator(".cx-terms li").all_inner_texts()
        assert len(terms) == cin + 1 and terms[-1].endswith(shown([b[o]])[0])
        for c, line in enumerate(terms[:-1]):
            part = F.conv2d(x[None, c : c + 1], w[o : o + 1, c : c + 1], stride=s, padding=p)
            assert line.endswith(f"= {shown([part[0, 0, i, j]])[0]}"), (setting, c, line)
            pairs = re.findall(r"(\S+)·\(?([^\s)]+)\)?", line.replace("\N{MINUS SIGN}", "-"))
            if pairs:
                window = padded[c, i * s : i * s + k, j * s : j * s + k].flatten()
                assert [(float(a), float(v)) for a, v in pairs] == list(
                    zip(window.tolist(), w[o, c].flatten().tolist(), strict=True)
                ), (setting, c)
    violations = axe_violations(page, axe_script)  # the explorer mid-way through its steps
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    assert problems == []
    page.close()


def test_explorer_agrees_with_pytorch(browser, served):
    """The explorer's output size and parameter count against PyTorch's own layer (the
    size None where PyTorch refuses the settings)."""
    import torch

    def size(n, k, s, p):
        try:
            return expected_output_size(n, k, s, p)
        except RuntimeError:
            return None

    page, _ = open_page(browser, page_url(served, "book/conv-layers"))
    for n in (1, 5, 7, 32):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    js = page.evaluate(f"window.convExplorer.outputSize({n}, {k}, {s}, {p})")
                    expected = size(n, k, s, p)
                    assert js == expected, (n, k, s, p)
                    counts = page.evaluate(
                        f"window.convExplorer.paramCounts(3, 4, {k}, {n}, {s}, {p})"
                    )
                    if expected is not None:
                        layer = torch.nn.Conv2d(3, 4, k)
                        assert counts["conv"] == sum(t.numel() for t in layer.parameters())
    page.close()


AXE = REPO / ".venv" / "axe-core" / "axe.min.js"  # `make axe`: the npm package, served locally
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.is_file():
        subprocess.run(["make", "axe"], cwd=REPO, check=True, capture_output=True)
    return AXE


def axe_violations(page, script: Path) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA, and best practice)."""
    page.add_script_tag(path=str(script))
    return page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")


def test_no_page_has_a_serious_or_critical_accessibility_violation(browser, served, axe_script):
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    found, report = [], {}
    for name in toc_pages():
        for label, (width, height) in WIDTHS.items():
            page, _ = open_page(browser, page_url(served, name), width, height)
            if 'class="math' in page_text(HTML, name):
                page.wait_for_selector("mjx-container", state="attached", timeout=20000)
            violations = axe_violations(page, axe_script)
            report[f"{name} ({label})"] = [
                {
                    "id": v["id"],
                    "impact": v["impact"],
                    "nodes": [n["html"][:200] for n in v["nodes"]],
                }
                for v in violations
            ]
            found += [
                (name, label, v["id"], v["impact"], [n["html"][:120] for n in v["nodes"]])
                for v in violations
                if v["impact"] in ("serious", "critical")
            ]
            page.close()
    (ARTIFACTS.parent / "axe.json").write_text(json.dumps(report, indent=1))
    assert found == [], found


def test_the_accessibility_audit_catches_a_missing_alt_text(browser, served, axe_script):
    page, _ = open_page(browser, page_url(served, toc_pages()[0]))
    page.evaluate(
        "document.querySelector('article').append(Object.assign(document.createElement('img'),"
        " {src: '../_static/favicon.svg'}))"
    )
    assert "image-alt" in [v["id"] for v in axe_violations(page, axe_script)]
    page.close()


def test_animation_and_explorer_controls_have_names_and_work_by_keyboard(browser, served):
    page, problems = open_page(browser, page_url(served, "book/conv-layers"))
    for control in page.locator(".animation button, .animation input, .conv-explorer button").all():
        name = control.evaluate(
            "e => e.getAttribute('aria-label') || e.getAttribute('title') || e.innerText"
            " || [...(e.labels || [])].map(l => l.innerText).join(' ')"
        )
        assert name and name.strip(), control.evaluate("e => e.outerHTML")
    slider = page.locator(".animation input[type=range]").first
    before = slider.input_value()
    page.locator(".animation button").first.focus()
    for _ in range(12):  # Tab to the "Next frame" button and press it
        if page.evaluate("document.activeElement.title") == "Next frame":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("Tab never reaches the animation's Next frame button")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert slider.input_value() != before
    assert problems == []
    page.close()


def test_screenshots_of_each_chapter_at_desktop_and_phone_width(browser, served):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name in toc_pages():
        for label, (width, height) in {"desktop": (1280, 900), "phone": (390, 844)}.items():
            page, _ = open_page(browser, page_url(served, name), width, height)
            path = ARTIFACTS / f"{name.replace('/', '-')}-{label}.png"
            page.screenshot(path=str(path), full_page=False)
            assert path.stat().st_size > 5000
            if label == "phone":
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (name, overflow)
            page.close()
