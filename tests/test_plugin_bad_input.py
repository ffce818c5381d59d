"""Bad input to the plugin: marker arguments and report paths, each a clear error with no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

ONE_TEST = """
import pytest

@pytest.mark.chaos("openai.latency")
def test_x():
    pass
"""


def marker_error(pytester: pytest.Pytester, marker: str) -> str:
    """The message a test with this ``chaos`` marker fails with (at setup, with no traceback)."""
    pytester.makepyfile(f"import pytest\nfrom chaoskit import faults\n\n{marker}\ndef test_x(chaos):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.no_fnmatch_line("*Traceback*")
    (line,) = [line for line in result.stdout.lines if line.startswith("@pytest.mark.chaos")]
    return line


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("window=5", "window=5 must be (start, end) seconds with 0 <= start <= end, or (start, None) for no end"),
        ("sequence=5", "sequence=5 must be a list of 'fail' and 'pass' (or True/False), or a string such as 'fail,fail,pass'"),
    ],
)
def test_a_schedule_argument_of_the_wrong_type_is_named(pytester: pytest.Pytester, argument: str, message: str) -> None:
    line = marker_error(pytester, f'@pytest.mark.chaos("openai.rate_limit", {argument})')
    assert line == f"@pytest.mark.chaos: {message}"


def test_a_bad_fault_parameter_in_a_marker_fails_where_it_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('import pytest\nfrom chaoskit import faults\n\n'
                        '@pytest.mark.chaos(faults.get("openai.latency", seconds=-5))\ndef test_x():\n    pass\n')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.chaos(faults.get(\"openai.latency\", seconds=-5))",
        "E   chaoskit._errors.ChaosConfigError: fault 'openai.latency': seconds=-5 must be a number >= 0",
    ])


def test_a_fault_parameter_given_to_the_marker_goes_to_its_fault(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest
from chaoskit import faults


@pytest.mark.chaos("openai.latency", "openai.rate_limit", seconds=30, retry_after=0.5, times=1)
def test_x(chaos):
    [latency, limit] = [i.fault for i in chaos.injections]
    assert latency == faults.get("openai.latency", seconds=30)
    assert limit == faults.get("openai.rate_limit", retry_after=0.5)
    assert [i.schedule.times for i in chaos.injections] == [1, 1]  # a marker option stays the marker's
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_parameter_two_faults_of_the_marker_have_must_say_which(pytester: pytest.Pytester) -> None:
    line = marker_error(pytester, '@pytest.mark.chaos("openai.latency", "anthropic.latency", seconds=5, rate=0.5)')
    assert line == (
        "@pytest.mark.chaos: seconds=5 is a parameter of openai.latency and anthropic.latency; say which: "
        "@pytest.mark.chaos(faults.get('openai.latency', seconds=5) or faults.get('anthropic.latency', seconds=5), ...)"
    )


def test_a_keyword_no_fault_of_the_marker_has_is_named(pytester: pytest.Pytester) -> None:
    line = marker_error(pytester, '@pytest.mark.chaos(faults.get("openai.latency"), secs=5)')
    assert line == (
        "@pytest.mark.chaos: unknown argument secs=5; it takes fault ids, their parameters (jitter, seconds) and "
        "rate, times, after, window, sequence, url, method, target, seed, virtual_time"
    )


def test_a_bad_value_of_a_fault_parameter_in_the_marker_is_named(pytester: pytest.Pytester) -> None:
    line = marker_error(pytester, '@pytest.mark.chaos("openai.latency", seconds=-5)')
    assert line == "@pytest.mark.chaos: fault 'openai.latency': seconds=-5 must be a number >= 0"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_app=ONE_TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("option", ["--chaos-report", "--chaos-html"])
def test_a_report_path_under_a_file_is_a_usage_error(pytester: pytest.Pytester, option: str) -> None:
    pytester.makefile(".txt", notes="a file, not a directory")
    result = run(pytester, f"{option}=notes.txt/report.out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [
        f"ERROR: {option}=notes.txt/report.out: 'notes.txt' is a file, not a directory; "
        "give the path of a file that can be written."
    ]
    result.stdout.no_fnmatch_line("*passed*")


def test_a_report_path_that_is_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("reports")
    result = run(pytester, "--chaos-report=reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [
        "ERROR: --chaos-report=reports: it is a directory; give the path of a file that can be written."
    ]


def _without_permission_overrides() -> None:
    """In the child, before it runs: give up the capabilities that let root write in any directory
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a read-only directory is read-only to it too."""
    if os.getuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_a_report_path_in_a_read_only_directory_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "test_app.py").write_text(ONE_TEST)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        done = subprocess.run(  # run so that even root meets the directory's permissions
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--chaos-html=locked/report.html", "test_app.py"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=_without_permission_overrides,
        )
    finally:
        locked.chmod(0o755)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert [line for line in done.stderr.splitlines() if line] == [
        "ERROR: --chaos-html=locked/report.html: the directory 'locked' cannot be written (permission denied); "
        "give the path of a file that can be written."
    ]
    assert not (locked / "report.html").exists()


def test_a_report_that_cannot_be_written_at_the_end_fails_the_run(pytester: pytest.Pytester) -> None:
    """The path was fine at the start; the tests made it a directory: a clear message and exit code 3."""
    pytester.makepyfile(test_app=ONE_TEST + "\ndef test_takes_the_path():\n    import os\n    os.mkdir('late.json')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-report=late.json", "--chaos-html=ok.html")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "chaoskit: --chaos-report=late.json: the report could not be written (Is a directory), so the run fails",
    ])
    result.stdout.fnmatch_lines(["chaoskit: report (HTML) of 1 chaos test(s) written to ok.html"])
    result.stdout.no_fnmatch_line("*results (JSON)*written*")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert Path(pytester.path, "ok.html").is_file()


def test_a_failed_run_keeps_its_exit_code_when_the_report_is_lost(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="def test_fails():\n    import os\n    os.mkdir('late.json')\n    assert False\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-report=late.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["chaoskit: --chaos-report=late.json: the report could not be written (Is a directory), so the run fails"])

