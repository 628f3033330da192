"""``if_succeeded_for_mis_date="skip"``: skip a trigger only for an earlier success of its MIS date that OFS confirms.

Loaded where a task runs (the trigger operator imports it in ``execute``): it calls OFS through the task's hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs._compat import AirflowSkipException
from airflow_provider_ofs.arguments import mis_date_text
from airflow_provider_ofs.asset_events import asset_of, batch_uri_of, check_mis_date_policy, claimed_successes
from airflow_provider_ofs.exceptions import OFSObjectNotFoundError
from airflow_provider_ofs.protocol import quote_value
from airflow_provider_ofs.run_ids import mis_date_of_run, run_id_problem
from airflow_provider_ofs.states import DONE_WITHOUT_FAILURE

#: How many claims of a success ``skip_if_succeeded_before`` checks with OFS, newest first (one status call each).
MAX_CLAIMS_CHECKED = 5


def skip_if_succeeded_before(task: Any) -> None:
    """Raise ``AirflowSkipException`` when OFS confirms that a run of the task's batch for its MIS date succeeded.

    The batch's asset events say which runs succeeded for which MIS date: an operator's success, or an event
    posted through the REST API, which anyone allowed to post asset events can do (far less than the right
    to trigger the DAG), by mistake too. So each such claim, newest first, is checked with OFS before the task
    skips: its run id must have OFS's form for this batch and MIS date (``<batch>_<MIS date>_<millis>_<n>``;
    OFS's status answer does not name the batch), and OFS must know the run and say it succeeded (SUCCESSFUL,
    or EXCLUDED as a whole). A claim that fails a check is logged and passed over; with none left, the task
    triggers. The log's Batch Monitor link is the connection's own, never one from the event.
    """
    mis_date = mis_date_text(task.mis_date)
    check_mis_date_policy("skip", mis_date)
    assert mis_date is not None  # checked above
    uri = batch_uri_of(task.hook.settings, task.batch_name)
    claims = claimed_successes(asset_of(uri), mis_date)
    for event in claims[:MAX_CLAIMS_CHECKED]:
        run_id = event.extra.get("batchRunId")
        doubt = _doubt(task, run_id, mis_date)
        if doubt is not None:
            task.log.warning(
                "The asset event of %s (from %s) says OFS run %s of %s succeeded for MIS date %s, but %s: not "
                "skipping on it",
                event.timestamp,
                _source(event),
                quote_value(run_id),
                task.batch_name,
                mis_date,
                doubt,
            )
            continue
        run_id = run_id.strip()
        link = task.hook.monitor_url(run_id, task.batch_name)
        message = (
            f"OFS run {run_id} of {task.batch_name} for MIS date {mis_date} already succeeded, as OFS confirms "
            f"(asset event of {event.timestamp}, from {_source(event)}" + (f"; {link}" if link else "") + "): "
            "not triggering again (if_succeeded_for_mis_date='skip'; 'run' triggers anyway)"
        )
        task.log.info("%s", message)
        raise AirflowSkipException(message)
    checked = f", the newest {MAX_CLAIMS_CHECKED} checked" if len(claims) > MAX_CLAIMS_CHECKED else ""
    task.log.info(
        "No run of %s for MIS date %s that OFS confirms succeeded among the events of %s (%d claimed%s): triggering",
        task.batch_name,
        mis_date,
        uri,
        len(claims),
        checked,
    )


def _doubt(task: Any, run_id: Any, mis_date: str) -> str | None:
    """Why OFS does not confirm that ``run_id`` is a run of the task's batch for ``mis_date`` that succeeded."""
    problem = run_id_problem(run_id)
    if problem is not None:
        return f"its batchRunId is not a run id ({problem})"
    if mis_date_of_run(str(run_id).strip(), task.batch_name) != mis_date:
        return f"OFS names the runs of {task.batch_name} for that MIS date {task.batch_name}_{mis_date}_<millis>_<n>"
    try:
        status = task.hook.get_status(run_id)
    except OFSObjectNotFoundError as error:
        return f"OFS does not know that run (code {error.code}: Object does not exist)"
    if status.state not in DONE_WITHOUT_FAILURE:
        return f"OFS says it is {status.state.name}"
    return None


def _source(event: Any) -> str:
    """Where an asset event came from: a task of a DAG run, or a post to Airflow's REST API (or another)."""
    if getattr(event, "source_dag_id", None):
        return f"DAG {event.source_dag_id} run {event.source_run_id}"
    return "an event posted to Airflow"


__all__ = ["MAX_CLAIMS_CHECKED", "skip_if_succeeded_before"]
