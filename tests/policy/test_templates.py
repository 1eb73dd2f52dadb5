"""Templates: syntax, kinds, normalisation, GSM7/UCS2 text, and the index agreeing with a
plain scan over hundreds of templates."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsswitch.policy import OK, REJECT, TemplateSet, load_policy_text, parse_template
from smsswitch.policy.templates import TemplateError, normalize_text
from smsswitch.smpp.constants import CommandStatus as S

from .conftest import UK_MOBILE, mt

OTP = "Your code is {code:digits(4-8)}. It expires in {minutes:digits(1-2)} minutes."


def one(source: str) -> TemplateSet:
    return TemplateSet([parse_template("t", source)])


# ---------------------------------------------------------------- syntax and kinds


def test_placeholders_capture_values() -> None:
    found = one(OTP).match("Your code is 12345. It expires in 10 minutes.")
    assert found is not None and found.values == {"code": "12345", "minutes": "10"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Your code is 1234. It expires in 5 minutes.", True),
        ("Your code is 12345678. It expires in 99 minutes.", True),
        ("Your code is 123. It expires in 5 minutes.", False),  # too short
        ("Your code is 123456789. It expires in 5 minutes.", False),  # too long
        ("Your code is 12a45. It expires in 5 minutes.", False),  # not digits
        ("Your code is ١٢٣٤. It expires in 5 minutes.", False),  # Arabic-Indic digits are not 0-9
        ("your code is 1234. It expires in 5 minutes.", False),  # literal text is case-sensitive
        ("Your code is 1234. It expires in 5 minutes. Buy now!", False),  # anchored
        ("  Your code   is 1234.\nIt expires in 5\tminutes.  ", True),  # whitespace normalised
    ],
)
def test_otp_template(text: str, matches: bool) -> None:
    assert (one(OTP).match_name(text) == "t") is matches


def test_alnum_takes_letters_and_digits_of_any_script_only() -> None:
    template = one("Ref {ref:alnum(3-6)} ok")
    assert template.match_name("Ref Zé9 ok") == "t"
    assert template.match_name("Ref ЖЖ12 ok") == "t"
    assert template.match_name("Ref a-b ok") is None
    assert template.match_name("Ref a_b ok") is None


def test_text_takes_anything_within_its_length() -> None:
    template = one("Hello {name:text(1-5)}!")
    assert template.match_name("Hello Jo Lim!") is None  # 5 characters at most
    assert template.match_name("Hello Jo Li!") == "t"
    assert template.match_name("Hello 😀😀!") == "t"


def test_exact_length_and_literal_braces() -> None:
    template = one("{{{pin:digits(4)}}} is your PIN")
    assert template.match_name("{1234} is your PIN") == "t"
    assert template.match_name("{12345} is your PIN") is None


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ("Code {code:digits(4-8)", "unclosed '{'", 5),
        ("Code } here", "unmatched '}'", 5),
        ("Code {code}", "bad placeholder {code}", 5),
        ("Code {code:number(4)}", "unknown placeholder kind 'number'", 5),
        ("Code {code:digits(8-4)}", "bad length 8-4", 5),
        ("Code {code:digits(0-9999)}", "bad length 0-9999", 5),
        ("{a:digits(4)} and {a:digits(4)}", "placeholder 'a' appears twice", 0),
        ("Code {a:digits(4)}{b:alnum(2)}", "placeholder 'a' touches the next one", 5),
        ("   ", "empty template", 0),
    ],
)
def test_template_errors(source: str, message: str, offset: int) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template("t", source)
    assert caught.value.message.startswith(message)
    assert caught.value.offset == offset


def test_normalize_text_composes_accents() -> None:
    decomposed = "Cafe\u0301  au\nlait"
    assert normalize_text(decomposed) == "Café au lait"
    assert one("{drink:alnum(4)} au lait").match_name(decomposed) == "t"


# ---------------------------------------------------------------- GSM7 and UCS2 through check_mt

POLICY = load_policy_text(
    """
tenants:
  acme:
    templates_only: true
    templates:
      otp: "Your code is {code:digits(4-8)}. It expires in {minutes:digits(1-2)} minutes."
      euro: "Pay {amount:digits(1-4)}€ [ref {ref:alnum(4)}]"
      greet: "Bonjour {name:text(1-20)}, votre colis arrive à {time:text(4-5)} 🚚"
      jp: "{name:text(1-10)}様、コードは{code:digits(6)}です"
""",
    "p.yaml",
)


@pytest.mark.parametrize(
    ("text", "data_coding", "template"),
    [
        ("Your code is 123456. It expires in 5 minutes.", 0, "otp"),  # GSM 03.38
        ("Your code is 123456. It expires in 5 minutes.", 8, "otp"),  # the same text in UCS2
        ("Your code is 123456. It expires in 5 minutes.", 3, "otp"),  # Latin-1
        ("Pay 25€ [ref AB12]", 0, "euro"),  # GSM extension table characters (€ [ ])
        ("Bonjour Zoë, votre colis arrive à 14:30 🚚", 8, "greet"),  # accents and an emoji (surrogate pair)
        ("Bonjour Zoë, votre colis arrive à 14:30 🚚".replace("ë", "e\u0308"), 8, "greet"),  # decomposed
        ("山田様、コードは123456です", 8, "jp"),
    ],
)
def test_matching_on_decoded_text(text: str, data_coding: int, template: str) -> None:
    verdict = POLICY.check_mt("acme", mt("ACME", UK_MOBILE, text, data_coding), None, None)
    assert (verdict.outcome, verdict.template) == (OK, template)


def test_emoji_counts_as_one_character() -> None:
    template = one("Hi {mood:text(1)}")
    assert template.match_name("Hi 😀") == "t"


def test_ucs2_mismatch_rejected() -> None:
    verdict = POLICY.check_mt("acme", mt("ACME", UK_MOBILE, "Bonjour Zoë, achetez maintenant 🚚", 8), None, None)
    assert (verdict.outcome, verdict.status) == (REJECT, S.ESME_RINVMSGLEN)


# ---------------------------------------------------------------- hundreds of templates


def brand_templates(count: int) -> list[tuple[str, str]]:
    """Templates sharing openings, brands and endings, as real tenants' do."""
    openings = [
        "Your code is {code:digits(4-8)}",
        "Your {brand} code is {code:digits(4-8)}",
        "{code:digits(6)} is your {brand} code",
        "Hello {name:text(1-30)}, welcome to {brand}",
        "Order {id:alnum(6-10)} from {brand} shipped",
    ]
    brands = ["ACME", "Globex", "Initech", "Hooli", "Wonka"]
    return [
        (f"t{i}", openings[i % 5].replace("{brand}", brands[(i // 5) % 5]) + f". Ref {i}: valid {{m:digits(1-2)}} min.")
        for i in range(count)
    ]


def test_hundreds_of_templates_each_found_by_its_own_text() -> None:
    sources = brand_templates(400)
    templates = TemplateSet(parse_template(name, text, i) for i, (name, text) in enumerate(sources))
    fills = {"digits(4-8)": "12345", "digits(6)": "123456", "text(1-30)": "Zoë Smith", "alnum(6-10)": "AB12CD", "digits(1-2)": "5"}
    for name, source in sources:
        text = source
        for spec, value in fills.items():
            text = text.replace(f"{{code:{spec}}}", value).replace(f"{{name:{spec}}}", value)
            text = text.replace(f"{{id:{spec}}}", value).replace(f"{{m:{spec}}}", value)
        assert templates.match_name(text) == name, (name, text)
        assert len(templates.candidates(normalize_text(text))) <= 2, text
    assert templates.match_name("Your code is 12345. Ref 999: valid 5 min.") is None


def _linear(templates: TemplateSet, text: str) -> str | None:
    normal = normalize_text(text)
    return next((t.name for t in templates.templates if t.regex.fullmatch(normal)), None)


_LITERALS = st.text(alphabet="ab .1", min_size=0, max_size=4)
_SPECS = st.sampled_from(["digits(1-3)", "alnum(1-2)", "text(0-3)", "text(1-2)", "digits(2)", "digits(0-2)", "alnum(0-1)"])


@st.composite
def template_sources(draw: st.DrawFn) -> str:
    count = draw(st.integers(0, 3))
    parts = [draw(_LITERALS)]
    for i in range(count):
        parts.append(f"{{p{i}:{draw(_SPECS)}}}")
        parts.append(draw(_LITERALS) or " ")
    return "".join(parts)


@settings(max_examples=150, deadline=None)
@given(st.lists(template_sources(), min_size=1, max_size=25), st.lists(st.text(alphabet="ab .1x9é", max_size=12), max_size=20))
def test_index_agrees_with_a_linear_scan(sources: list[str], texts: list[str]) -> None:
    compiled = []
    for i, source in enumerate(sources):
        try:
            compiled.append(parse_template(f"t{i}", source, i))
        except TemplateError:
            continue
    templates = TemplateSet(compiled)
    rng = random.Random(len(texts))
    # Texts made from the templates themselves hit much more often than random ones.
    for template in compiled:
        texts.append("".join(p if isinstance(p, str) else rng.choice("1a.") * p.high for p in template.segments))
    for text in texts:
        assert templates.match_name(text) == _linear(templates, text), (sources, text)


def test_literal_after_text_occurring_many_times_still_matches() -> None:
    templates = TemplateSet([parse_template("a", "{a:text(0-80)} x {b:digits(1)}", 0), parse_template("z", "zz {c:text(1-3)}", 1)])
    text = " x ".join("ab" for _ in range(15)) + " x 7"
    assert templates.match_name(text) == "a"
    assert templates.match_name(text + "0") is None
