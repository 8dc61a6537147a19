import io

from multivector._progress import Progress


def test_progress_line_names_unit_and_total():
    out = io.StringIO()
    p = Progress(desc="Evaluating", unit="queries", total=4, enabled=True, stream=out)
    p.update(2)
    p.update(2)
    p.close()
    text = out.getvalue()
    assert "4/4 queries" in text and text.endswith("\n") and "[" in text


def test_progress_disabled_writes_nothing():
    out = io.StringIO()
    p = Progress(total=3, enabled=False, stream=out)
    p.update(3)
    p.close()
    assert out.getvalue() == ""


def test_progress_auto_is_off_when_not_a_terminal():
    out = io.StringIO()  # isatty() is False
    p = Progress(total=2, stream=out)
    p.update(2)
    p.close()
    assert out.getvalue() == ""
