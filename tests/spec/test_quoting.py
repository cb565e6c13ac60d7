"""Text that prints as it reads: what a terminal would act on, escaped; every script kept."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from core.spec.quoting import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # ESC: clears the screen
        ("one\nfake line", "one\\nfake line"),
        ("tab\there\r", "tab\\there\\r"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("csi\x9b2J", "csi\\x9b2J"),  # C1: a terminal may take U+009B for ESC [
        ("abc\u202efed", "abc\\u202efed"),  # right-to-left override: reads backwards
        ("zero\u200bwidth\u200d\ufeff", "zero\\u200bwidth\\u200d\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),  # invisible tag character
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("private \ue000 use", "private \\ue000 use"),
    ],
)
def test_printable_escapes_what_a_terminal_acts_on_or_hides(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "mlp on digits",
        "해파리",  # a class folder's name in Korean
        "café crème, naïve",
        "cafe\u0301",  # a combining accent
        "日本語\u3000全角",  # the ideographic space is a space
        "no\u00a0break",
        "C:\\data\\x1b",  # a backslash is text like any other
        "🪼 emoji",  # newer than some Pythons' Unicode tables: still shown
        "",
    ],
)
def test_printable_keeps_the_text_of_every_script(text: str) -> None:
    assert printable(text) == text


def test_every_code_point_prints_on_one_line_of_visible_characters() -> None:
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    shown = printable(every)
    assert "\n" not in shown and "\x1b" not in shown
    assert all(ch.isprintable() or unicodedata.category(ch) in ("Zs", "Cn") for ch in shown)
