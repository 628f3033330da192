"""Answer parsing: the two code layers, every documented API code, and answers that are not the envelope."""

from __future__ import annotations

import json

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs.exceptions import (
    API_ERRORS,
    FailureKind,
    OFSAlreadyInterruptedError,
    OFSApiError,
    OFSCallFailedError,
    OFSCallInterruptedError,
    OFSInvalidArgumentsError,
    OFSInvalidHeadersError,
    OFSNoExecutableJobError,
    OFSNotOngoingError,
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSTransportError,
    OFSUnknownCodeError,
)
from airflow_provider_ofs.protocol import HttpResponse, StatusPoll, decode_answer, parse_status, run_id_from
from airflow_provider_ofs.states import RunState, TaskStatus
from tests.core.factory import make_settings

RUN_ID = "OFS_REG_CAPITAL_CALC_2024-03-31_1711843200000_1"

DOCUMENTED = [
    (-1, OFSCallFailedError, "Failure"),
    (-2, OFSCallInterruptedError, "Interrupted"),
    (-3, OFSObjectNotFoundError, "Object does not exist"),
    (-4, OFSInvalidArgumentsError, "Invalid arguments passed in request/not enough params in Request body"),
    (-5, OFSInvalidHeadersError, "Invalid request headers/request headers missing"),
    (-6, OFSNoExecutableJobError, "No executable job is present"),
    (-7, OFSAlreadyInterruptedError, "Job is already interrupted"),
    (-8, OFSNotOngoingError, "Job is not ongoing/aborted"),
]


def answer(body, status=200, content_type="application/json", retry_after=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, body=raw, content_type=content_type, retry_after=retry_after)


def envelope(code="0", **fields):
    return {"status": "success" if code in ("0", 0) else "error", "severity": "info", "statusCode": code, **fields}


def status_answer(batch_code, tasks=(), code="0", **fields):
    return envelope(
        code,
        batchRunId=RUN_ID,
        batchStatusCode=batch_code,
        batchStatus="X",
        taskStatusList=[{"taskCode": task, "statusCode": state, "status": "X"} for task, state in tasks],
        batchList=[],
        **fields,
    )


# ------------------------------------------------------------------------------------------- two layers


def test_successful_status_call_reporting_a_failed_run_is_a_failed_run_not_an_api_error():
    body = status_answer("-1", [("CALC_EXPOSURE_AT_DEFAULT", "0"), ("CALC_CREDIT_RWA", "-1")])

    status = parse_status(decode_answer(answer(body), "status"), RUN_ID)

    assert status.state is RunState.FAILED
    assert status.failed_tasks == ["CALC_CREDIT_RWA"]
    assert status.tasks == [
        TaskStatus("CALC_EXPOSURE_AT_DEFAULT", RunState.SUCCESSFUL),
        TaskStatus("CALC_CREDIT_RWA", RunState.FAILED),
    ]


@pytest.mark.parametrize("state", list(RunState))
@pytest.mark.parametrize("as_text", [True, False])
def test_run_state_codes_are_read_from_strings_and_integers(state, as_text):
    code = str(state.value) if as_text else state.value
    top = "0" if as_text else 0

    status = parse_status(decode_answer(answer(status_answer(code, [("T1", code)], code=top)), "status"), RUN_ID)

    assert status.state is state
    assert status.tasks == [TaskStatus("T1", state)]


def test_state_text_is_kept_for_messages_but_the_code_decides():
    body = status_answer("-1")
    body["batchStatus"] = "SUCCESSFUL"  # a lying text must not turn a failure into a success

    status = parse_status(decode_answer(answer(body), "status"), RUN_ID)

    assert status.state is RunState.FAILED
    assert status.state_text == "SUCCESSFUL"


def test_group_answer_lists_child_runs_and_may_leave_task_list_out():
    body = envelope(
        batchRunId="EOD_RUN",
        batchStatusCode="-1",
        batchStatus="FAILED",
        batchList=[
            {"batchRunId": "LOAD_RUN", "batchStatusCode": "0", "batchStatus": "SUCCESSFUL"},
            {"batchRunId": "FTP_RUN", "batchStatusCode": "4", "batchStatus": "EXCLUDED"},
            {"batchRunId": "CAP_RUN", "batchStatusCode": "-1", "batchStatus": "FAILED"},
            {"batchRunId": "HELD_RUN", "batchStatusCode": 5, "batchStatus": "HELD"},
        ],
    )

    status = parse_status(decode_answer(answer(body), "status"), "EOD_RUN")

    assert status.state is RunState.FAILED
    assert status.tasks == []
    assert [(child.run_id, child.state) for child in status.children] == [
        ("LOAD_RUN", RunState.SUCCESSFUL),
        ("FTP_RUN", RunState.EXCLUDED),
        ("CAP_RUN", RunState.FAILED),
        ("HELD_RUN", RunState.HELD),
    ]
    assert status.children[2].state_text == "FAILED"
    assert status.failed_tasks == ["CAP_RUN"]
    assert status.held_tasks == ["HELD_RUN"]


def test_status_answer_without_run_id_keeps_the_asked_id():
    body = status_answer("2")
    del body["batchRunId"]

    assert parse_status(body, "ASKED_RUN").run_id == "ASKED_RUN"


def test_status_answer_without_batch_status_code_is_malformed():
    body = envelope(batchRunId=RUN_ID, taskStatusList=[])

    with pytest.raises(OFSTransportError, match="batchStatusCode") as raised:
        parse_status(body, RUN_ID)

    assert raised.value.kind is FailureKind.MALFORMED


@pytest.mark.parametrize("code", ["6", "-2x", "99", "", None, True, 2.0, "UNDEFINED"])
def test_undocumented_run_state_is_an_error_naming_it_never_a_success(code):
    with pytest.raises(OFSUnknownCodeError) as raised:
        parse_status(status_answer(code), RUN_ID)

    assert RUN_ID in str(raised.value)
    assert str(code) in str(raised.value)


def test_undocumented_task_state_names_the_task():
    with pytest.raises(OFSUnknownCodeError, match="CALC_CREDIT_RWA") as raised:
        parse_status(status_answer("2", [("CALC_CREDIT_RWA", "7")]), RUN_ID)

    assert "7" in str(raised.value)


@pytest.mark.parametrize(
    "task_list",
    ["not a list", [1, 2], [{"statusCode": "0"}], [{"taskCode": "T1"}]],
)
def test_malformed_task_list_is_a_malformed_answer(task_list):
    body = status_answer("2")
    body["taskStatusList"] = task_list

    with pytest.raises(OFSTransportError) as raised:
        parse_status(body, RUN_ID)

    assert raised.value.kind is FailureKind.MALFORMED


def test_malformed_child_list_is_a_malformed_answer():
    body = status_answer("2")
    body["batchList"] = [{"batchStatusCode": "0"}]

    with pytest.raises(OFSTransportError, match="batchRunId"):
        parse_status(body, RUN_ID)


# ------------------------------------------------------------------------------------- repeated polls


def test_a_repeated_answer_reads_as_the_same_status_and_a_changed_one_afresh():
    poll = StatusPoll(make_settings(), RUN_ID)
    ongoing = answer(status_answer("2", [("T1", "0"), ("T2", "2")]))

    first = poll.read(ongoing, "status")
    again = poll.read(answer(status_answer("2", [("T1", "0"), ("T2", "2")])), "status")  # equal bytes, new object
    finished = poll.read(answer(status_answer("0", [("T1", "0"), ("T2", "0")])), "status")

    assert again is first
    assert finished.state is RunState.SUCCESSFUL
    assert finished.tasks[1] == TaskStatus("T2", RunState.SUCCESSFUL)


@pytest.mark.parametrize(
    "changed",
    [
        {"status": 500},  # the same bytes under another HTTP status are another answer
        {"body": b'{"statusCode": "0"}'},
    ],
)
def test_an_answer_that_differs_in_status_or_bytes_is_read_again(changed):
    poll = StatusPoll(make_settings(), RUN_ID)
    good = answer(status_answer("2"))
    poll.read(good, "status")
    fields = {"status": good.status, "body": good.body, "content_type": good.content_type, **changed}

    with pytest.raises(OFSTransportError):
        poll.read(HttpResponse(**fields), "status")


def test_a_failed_read_is_not_remembered():
    poll = StatusPoll(make_settings(), RUN_ID)
    broken = answer(envelope("0", batchRunId=RUN_ID))  # no batchStatusCode

    for _ in range(2):
        with pytest.raises(OFSTransportError, match="batchStatusCode"):
            poll.read(broken, "status")
    assert poll.read(answer(status_answer("1")), "status").state is RunState.NOT_STARTED


def test_a_status_poll_is_for_one_run_and_one_task_filter():
    poll = StatusPoll(make_settings(), RUN_ID, ["T1", "T2"])

    assert poll.is_for(RUN_ID, ("T1", "T2"))
    assert not poll.is_for(RUN_ID, None)
    assert not poll.is_for(RUN_ID, ["T2", "T1"])
    assert not poll.is_for("OTHER_RUN", ["T1", "T2"])
    assert json.loads(poll.request.body) == {"batchRunId": RUN_ID, "tasks": ["T1", "T2"]}


# ----------------------------------------------------------------------------------------- API codes


@pytest.mark.parametrize(("code", "error_class", "meaning"), DOCUMENTED)
@pytest.mark.parametrize("as_text", [True, False])
@pytest.mark.parametrize("http_status", [200, 400, 404, 500])
def test_every_documented_api_code_raises_its_error_with_the_meaning(code, error_class, meaning, as_text, http_status):
    body = envelope(str(code) if as_text else code, summary="Batch run X does not exist")

    with pytest.raises(error_class) as raised:
        decode_answer(answer(body, status=http_status), "status")

    assert type(raised.value) is error_class
    assert raised.value.code == code
    assert raised.value.verb == "status"
    assert meaning in str(raised.value)
    assert str(code) in str(raised.value)
    assert "Batch run X does not exist" in str(raised.value)


def test_the_error_table_covers_exactly_the_documented_codes():
    assert {code: cls for code, cls, _ in DOCUMENTED} == API_ERRORS
    assert all(issubclass(cls, OFSApiError) for cls in API_ERRORS.values())


def test_call_level_failure_and_interrupted_codes_are_reported_with_their_documented_meaning():
    with pytest.raises(OFSCallFailedError) as failed:
        decode_answer(answer(envelope("-1", summary="Batch could not be started")), "trigger")
    with pytest.raises(OFSCallInterruptedError) as interrupted:
        decode_answer(answer(envelope(-2)), "restart")

    assert str(failed.value) == "ESI trigger failed with code -1 (Failure): Batch could not be started"
    assert str(interrupted.value) == "ESI restart failed with code -2 (Interrupted)"
    assert "document" not in f"{failed.value} {interrupted.value}"


@pytest.mark.parametrize("code", ["-9", "1", "42", 7])
def test_unknown_api_code_is_an_error_naming_the_code_never_success(code):
    with pytest.raises(OFSUnknownCodeError) as raised:
        decode_answer(answer(envelope(code)), "trigger")

    assert raised.value.code == int(code)
    assert str(code) in str(raised.value)
    assert "trigger" in str(raised.value)


@pytest.mark.parametrize("code", ["success", "", None, [], {}, 0.0, False])
def test_api_code_that_is_not_a_number_is_an_unknown_code_error(code):
    with pytest.raises(OFSUnknownCodeError, match="statusCode"):
        decode_answer(answer(envelope(code)), "status")


@pytest.mark.parametrize("code", ["0", 0, " 0 "])
def test_success_code_returns_the_envelope(code):
    body = envelope(code, batchRunId=RUN_ID)

    assert decode_answer(answer(body), "trigger") == body


# ---------------------------------------------------------------------------------- not the envelope


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"severity": "info", "status": "succ', "application/json"),
        (b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>", "text/html"),
        (b"", ""),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b'{"status": "success", "severity": "info"}', "application/json"),
    ],
)
def test_a_200_answer_that_is_not_the_envelope_is_malformed(raw, content_type):
    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer(raw, content_type=content_type), "status")

    assert raised.value.kind is FailureKind.MALFORMED
    assert raised.value.http_status == 200


def test_malformed_answer_message_describes_the_body_without_echoing_it():
    page = b"<html><body>secret-looking page content</body></html>"

    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer(page, content_type="text/html; charset=utf-8"), "status")

    assert "text/html" in str(raised.value)
    assert "secret-looking" not in str(raised.value)


def test_deeply_nested_json_is_a_malformed_answer_not_a_crash():
    raw = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer(raw), "status")

    assert raised.value.kind is FailureKind.MALFORMED


@pytest.mark.parametrize(
    ("http_status", "kind"),
    [
        (429, FailureKind.THROTTLED),
        (503, FailureKind.UNAVAILABLE),
        (500, FailureKind.SERVER_ERROR),
        (502, FailureKind.SERVER_ERROR),
        (504, FailureKind.SERVER_ERROR),
        (400, FailureKind.HTTP_ERROR),
        (404, FailureKind.HTTP_ERROR),
    ],
)
def test_http_error_without_api_status_is_decided_by_the_http_status(http_status, kind):
    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer(b"<html>error</html>", status=http_status, content_type="text/html"), "status")

    assert raised.value.kind is kind
    assert raised.value.http_status == http_status
    assert str(http_status) in str(raised.value)


def test_429_carries_the_retry_after_seconds():
    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer({"error": "Too Many Requests"}, status=429, retry_after="7"), "status")

    assert raised.value.retry_after == 7.0


@pytest.mark.parametrize("retry_after", [None, "", "Wed, 21 Oct 2015 07:28:00 GMT", "soon"])
def test_retry_after_that_is_not_seconds_is_ignored(retry_after):
    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer({"error": "x"}, status=429, retry_after=retry_after), "status")

    assert raised.value.retry_after is None


def test_success_envelope_under_an_http_error_status_is_not_taken_for_success():
    with pytest.raises(OFSTransportError) as raised:
        decode_answer(answer(envelope("0", batchRunId=RUN_ID), status=502), "trigger")

    assert raised.value.kind is FailureKind.SERVER_ERROR


# ----------------------------------------------------------------------------------------------- run ids


def test_run_id_is_read_from_the_answer():
    assert run_id_from(envelope(batchRunId=f" {RUN_ID} "), "trigger") == RUN_ID


@pytest.mark.parametrize(
    "run_id",
    [None, "", "  ", 17, 17.5, True, ["x"], {"id": "x"}, "RUN\nFORGED", "RUN\rX", "RUN_\ud800", "RUN\x00", "R" * 257],
)
def test_a_success_without_a_usable_run_id_is_accepted_and_never_retried(run_id):
    body = envelope()
    if run_id is not None:
        body["batchRunId"] = run_id

    with pytest.raises(OFSOutcomeUnknownError, match="batchRunId") as raised:
        run_id_from(body, "restart", "run R1 of B")

    message = str(raised.value)
    assert isinstance(raised.value, AirflowFailException), "Airflow must not send the call again"
    assert "ESI restart of run R1 of B answered success (statusCode 0)" in message
    assert "OFS accepted the request, so it is not sent again" in message
    assert message.isprintable()


def test_an_unusable_run_id_is_quoted_cut_short_and_redacted():
    body = envelope(batchRunId="Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl s3cret-pass " + "R" * 5000)

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        run_id_from(body, "trigger", "batch B", ["s3cret-pass"])

    message = str(raised.value)
    assert "eyJ" not in message
    assert "s3cret-pass" not in message
    assert "characters)" in message
    assert len(message) < 1000


def test_server_detail_that_repeats_the_summary_is_given_once():
    body = envelope(
        "-3", summary="Object does not exist: Batch run X does not exist", details="Batch run X does not exist"
    )

    with pytest.raises(OFSObjectNotFoundError) as raised:
        decode_answer(answer(body), "status")

    assert str(raised.value).count("Batch run X does not exist") == 1


def test_server_summary_and_distinct_details_are_both_given():
    body = envelope("-4", summary="Invalid request", details="'batchRunId' is required")

    with pytest.raises(OFSInvalidArgumentsError) as raised:
        decode_answer(answer(body), "status")

    assert "Invalid request" in str(raised.value)
    assert "'batchRunId' is required" in str(raised.value)


@pytest.mark.parametrize("code", ["0_0", "\u0660", "-\u0663", "0x0", "0.0", "1e0"])
def test_code_text_that_python_might_read_as_a_number_is_not_taken_for_a_code(code):
    with pytest.raises(OFSUnknownCodeError, match="statusCode"):
        decode_answer(answer(envelope(code)), "status")
