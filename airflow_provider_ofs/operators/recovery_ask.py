"""Put a failed run to a person in Airflow's Required Actions, and read and record the answer (Airflow 3.3+).

The operator's wait (``operators.run_waiter``) asks here when its run failed and ``recovery=`` is set: the
question is written with Airflow's human-in-the-loop API and the task waits in ``awaiting_input`` (no worker
slot, no trigger); the answer resumes it in ``execute_recovery``. What the options mean and the question's
text are ``airflow_provider_ofs.recovery``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_ofs.recovery import OPTIONS, XCOM_RECOVERY_KEY, Answer, question
from airflow_provider_ofs.run_ids import mis_date_of_run

if TYPE_CHECKING:
    from airflow_provider_ofs._compat import Context
    from airflow_provider_ofs.recovery import OFSRecovery

#: The operator method Airflow resumes with the answer.
RESUME_METHOD = "execute_recovery"


def ask(task: Any, context: Context, run_id: str, failure: str, asks_done: int, restarts_done: int) -> NoReturn:
    """Ask what to do with failed run ``run_id`` (``failure`` says why), then park the task awaiting the answer."""
    from airflow.sdk.exceptions import TaskAwaitingInput
    from airflow.sdk.execution_time.hitl import upsert_hitl_detail

    recovery: OFSRecovery = task.recovery
    mis_date = mis_date_of_run(run_id, task.batch_name)
    subject, body = question(
        task.batch_name,
        run_id,
        mis_date,
        failure,
        task.hook.monitor_url(run_id, task.batch_name),
        asks_done + 1,
        recovery.max_asks,
    )
    upsert_hitl_detail(
        ti_id=context["task_instance"].id,
        options=list(OPTIONS),
        subject=subject,
        body=body,
        defaults=[recovery.default],
        multiple=False,
        params={},
        assigned_users=recovery.users,  # type: ignore[arg-type]
    )
    waits = f"until {recovery.response_timeout} passes, then {recovery.default}" if recovery.response_timeout else ""
    task.log.warning(
        "%s. Asking in Airflow's Required Actions what to do with OFS run %s (question %d of %d)%s",
        failure,
        run_id,
        asks_done + 1,
        recovery.max_asks,
        f"; waiting {waits}" if waits else "",
    )
    for notifier in recovery.notifiers:
        notifier(context)
    raise TaskAwaitingInput(
        method_name=RESUME_METHOD,
        kwargs={"run_id": run_id, "asks_done": asks_done + 1, "restarts_done": restarts_done},
        timeout=recovery.response_timeout,
    )


def record(task: Any, context: Context, run_id: str, event: dict[str, Any]) -> Answer:
    """Read the answer from Airflow's event, log it and add it to the task's answers and XCom ``ofs_recovery``."""
    answer = Answer.from_event(run_id, event)
    task.log.warning("Recovery: %s", answer.sentence())
    task.recovery_answers = [*answers_of(context), answer.record()]
    ti = context.get("ti")
    if ti is not None and task.do_xcom_push:
        ti.xcom_push(key=XCOM_RECOVERY_KEY, value=task.recovery_answers)
    return answer


def answers_of(context: Context) -> list[dict[str, Any]]:
    """The answers this try recorded so far (XCom ``ofs_recovery``), oldest first."""
    ti = context.get("ti")
    if ti is None:
        return []
    pulled = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_RECOVERY_KEY, map_indexes=ti.map_index)
    return list(pulled) if isinstance(pulled, list) else []
