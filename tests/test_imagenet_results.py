"""course.imagenet_results: the seeds' ILSVRC numbers are there, every number has a source,
and top1 reads a published row."""
import re

import pytest

from course.imagenet_results import HUMAN_TOP5, ILSVRC_TOP5, IMAGENET_TOP1, top1


def test_grosse_slide_20_is_in_the_table():
    # Grosse, CSC321 lecture 12, slide 20 (seed 001): 28.2, 25.8, 16.4, 11.7, 6.6, 4.5; humans 5.1.
    by_year = {}
    for e in ILSVRC_TOP5:
        by_year.setdefault(e.year, []).append(e)
    assert [by_year[y][0].top5_error for y in (2010, 2011, 2012, 2013)] == [28.2, 25.8, 16.4, 11.7]
    googlenet = next(e for e in by_year[2014] if e.network == "GoogLeNet")
    assert round(googlenet.top5_error - 0.1, 1) == 6.6 and "6.6" in googlenet.note      # 6.67 rounded down
    assert "4.5" in by_year[2015][0].note and by_year[2015][0].top5_error == 3.57     # Forsyth's 3.6%
    assert HUMAN_TOP5 == 5.1


def test_every_number_has_a_source_and_years_are_ordered():
    assert [e.year for e in ILSVRC_TOP5] == sorted(e.year for e in ILSVRC_TOP5)
    for row in (*ILSVRC_TOP5, *IMAGENET_TOP1):
        assert row.source and re.search(r"\d{4}|torchvision", row.source), row


def test_top1_reads_a_published_row_and_names_the_known_ones():
    assert top1("ResNet-50") == 76.130
    with pytest.raises(KeyError, match="known"):
        top1("LeNet")
