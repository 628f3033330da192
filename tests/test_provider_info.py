"""Provider registration: ``get_provider_info()`` is valid for the installed Airflow, importable, and discovered."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_ofs._compat import DEFERRAL_SETTLE_SECONDS
from airflow_provider_ofs.get_provider_info import CONNECTION_FIELDS, UI_FIELD_BEHAVIOUR, get_provider_info

DISTRIBUTION = "airflow-provider-ofs"
ROOT = Path(__file__).resolve().parents[1]
SECRET_FIELDS = {"client_secret", "access_token", "proxy"}  # a proxy URL may carry a password


@pytest.fixture(scope="module")
def info():
    return get_provider_info()


def airflow_schema() -> dict:
    return json.loads((importlib.resources.files("airflow") / "provider_info.schema.json").read_text())


def test_provider_info_validates_against_the_schema_shipped_with_airflow(info):
    jsonschema.validate(instance=info, schema=airflow_schema())


def test_schema_validation_would_catch_a_broken_entry(info):
    broken = {**info, "connection-types": [{"hook-class-name": "x.Y"}]}  # connection-type is required

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(instance=broken, schema=airflow_schema())


def test_package_name_is_the_distribution_and_the_version_matches(info):
    assert info["package-name"] == DISTRIBUTION
    assert importlib.metadata.version(DISTRIBUTION) in info["versions"]


def test_the_version_has_one_source(info):
    import airflow_provider_ofs

    assert info["versions"] == [airflow_provider_ofs.__version__] == [importlib.metadata.version(DISTRIBUTION)]


def project_urls() -> dict[str, str]:
    entries = importlib.metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    return dict(entry.split(", ", 1) for entry in entries)


def test_project_urls_name_documentation_changelog_source_and_issues():
    assert set(project_urls()) >= {"Documentation", "Changelog", "Source", "Issues"}


def test_documentation_links_point_at_files_in_this_repository(info):
    from airflow_provider_ofs.get_provider_info import SOURCE_URL

    urls = project_urls()
    integration = info["integrations"][0]
    links = [integration["external-doc-url"], *integration["how-to-guide"], urls["Documentation"], urls["Changelog"]]

    assert integration["external-doc-url"] == urls["Documentation"]
    assert urls["Source"] == SOURCE_URL
    for link in links:
        assert link.startswith(f"{SOURCE_URL}/blob/main/"), link
        assert (ROOT / link.removeprefix(f"{SOURCE_URL}/blob/main/")).is_file(), link


@pytest.mark.parametrize("section", ["hooks", "operators", "sensors", "triggers"])
def test_every_listed_module_imports(info, section):
    modules = [module for entry in info[section] for module in entry["python-modules"]]

    assert modules, f"{section} lists no module"
    for module in modules:
        importlib.import_module(module)


def test_every_entry_names_a_declared_integration(info):
    integrations = {entry["integration-name"] for entry in info["integrations"]}

    for section in ("hooks", "operators", "sensors", "triggers"):
        assert {entry["integration-name"] for entry in info[section]} <= integrations


def test_connection_type_resolves_to_the_hook_class(info):
    (connection_type,) = info["connection-types"]
    module_name, _, class_name = connection_type["hook-class-name"].rpartition(".")

    hook_class = getattr(importlib.import_module(module_name), class_name)

    assert connection_type["connection-type"] == hook_class.conn_type == "ofs_scheduler"
    assert connection_type["hook-name"] == hook_class.hook_name
    assert hook_class.default_conn_name == "ofs_scheduler_default"


def test_connection_form_lists_every_documented_extra_and_hides_secrets(info):
    (connection_type,) = info["connection-types"]
    fields = connection_type["conn-fields"]

    documented = {"iam_url", "client_id", "client_secret", "tenant_id", "service_id", "workspace_id"}
    documented |= {"remote_user", "locale", "scope", "verify", "proxy", "access_token", "timeout"}
    documented |= {"dynamic_params_format"}
    assert documented <= set(fields)
    for name, spec in fields.items():
        assert spec["label"], name
        assert (spec["schema"].get("format") == "password") is (name in SECRET_FIELDS), name
    typed = {name for name in documented if "enum" not in fields[name]["schema"]}  # a choice needs no placeholder
    assert set(connection_type["ui-field-behaviour"]["placeholders"]) >= typed


REQUIRED_EXTRAS = {"iam_url", "client_id", "client_secret", "tenant_id", "service_id"}


def test_the_form_marks_the_required_extras_and_offers_choices_as_airflow_3_serves_it():
    """What the 3.x UI receives for each extra field (ProvidersManager's conversion of ``conn-fields``)."""
    providers_manager = pytest.importorskip("airflow.providers_manager")
    manager = providers_manager.ProvidersManager()
    if not hasattr(manager, "_to_api_format"):
        pytest.skip("this Airflow builds its form from the hook (2.11, 3.0, 3.1)")
    served = {name: manager._to_api_format(name, spec) for name, spec in CONNECTION_FIELDS.items()}

    # The UI's rule (FlexibleForm isParamRequired): a type without "null" is required.
    required = {name for name, field in served.items() if "null" not in field["schema"]["type"]}
    assert required == REQUIRED_EXTRAS
    assert served["dynamic_params_format"]["schema"]["enum"] == ["string", "object"]
    assert served["dynamic_params_format"]["value"] == "string"
    assert {"true", "false"} <= set(served["verify"]["schema"]["examples"])  # suggestions, a path still allowed
    assert served["iam_url"]["schema"]["title"] == "IAM token endpoint"
    assert all(field["description"] for field in served.values())


def test_airflow_2_form_is_built_from_the_same_fields():
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    behaviour = OFSSchedulerHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert (behaviour["relabeling"], behaviour["placeholders"]) == (
        UI_FIELD_BEHAVIOUR["relabeling"],
        UI_FIELD_BEHAVIOUR["placeholders"],
    )
    widgets = OFSSchedulerHook.get_connection_form_widgets()
    if not widgets:
        return  # Airflow 3 without FAB: the UI reads conn-fields
    assert set(widgets) == set(CONNECTION_FIELDS)
    from wtforms import Form
    from wtforms.validators import InputRequired

    form = type("OFSForm", (Form,), widgets)()
    required = {name for name in widgets if any(isinstance(v, InputRequired) for v in form[name].validators)}
    assert required == REQUIRED_EXTRAS
    assert form["workspace_id"].data == "WS001"
    from werkzeug.datastructures import MultiDict

    form.process(formdata=MultiDict({**dict.fromkeys(REQUIRED_EXTRAS, "x"), "dynamic_params_format": "json"}))
    assert not form.validate()
    assert list(form.errors) == ["dynamic_params_format"]  # a choice, checked on save


def test_airflow_registers_the_hook_and_its_form_fields():
    """The fields each Airflow's UI gets: a whole hook is refused for a field class it does not support (2.11)."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    if hasattr(manager, "_to_api_format") or importlib.util.find_spec("flask_appbuilder"):
        hooks, widgets = manager.hooks, manager.connection_form_widgets  # 3.2+ (conn-fields), or 2.11's FAB form
    else:  # Airflow 3.0 and 3.1 without FAB: the UI builds the form from the hook's widgets with wtforms mocked
        from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

        hooks, widgets, _ = HookMetaService._get_hooks_with_mocked_fab()
        if not any("__http__" in name for name in widgets):
            pytest.skip("this Airflow (3.0.0) shows no provider's extra fields without FAB, not even the HTTP one's")
    assert hooks["ofs_scheduler"] is not None
    ours = {name.rsplit("__", 1)[-1]: info for name, info in widgets.items() if "ofs_scheduler" in name}
    assert set(ours) == set(CONNECTION_FIELDS)


LOAD_THE_FORM = """
import json, logging
logging.basicConfig(level=logging.WARNING)
from airflow.providers_manager import ProvidersManager
behaviours = ProvidersManager().field_behaviours
print("BEHAVIOURS=" + json.dumps({name: behaviours.get(name) for name in ("ofs_scheduler", "http")}))
"""


def test_airflow_s_providers_manager_loads_the_form_s_labels_and_placeholders_without_an_error():
    """In a fresh process, as a webserver starts: 2.11 checks the hook's behaviour against its schema and, on an
    error, logs it and shows the raw fields with no labels."""
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_THE_FORM], capture_output=True, text=True, timeout=120, check=False
    )

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    complaints = [
        line for line in loaded.stderr.splitlines() if "airflow-provider-ofs" in line or "OFSScheduler" in line
    ]
    assert not complaints, complaints
    [behaviours] = [json.loads(line.split("=", 1)[1]) for line in loaded.stdout.splitlines() if "BEHAVIOURS=" in line]
    if behaviours["ofs_scheduler"] is None and behaviours["http"] is None:
        pytest.skip("this Airflow (3.0 without FAB) loads no provider's field behaviour, not even the HTTP one's")
    behaviour = behaviours["ofs_scheduler"]
    assert behaviour is not None, "Airflow has no field behaviour for ofs_scheduler"
    assert behaviour["hidden_fields"] == ["schema"]
    assert behaviour["relabeling"]["host"] == "Application base URL"
    assert behaviour["placeholders"]["extra__ofs_scheduler__iam_url"] == UI_FIELD_BEHAVIOUR["placeholders"]["iam_url"]


def test_the_proxy_field_is_a_password_field_in_both_forms():
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    assert CONNECTION_FIELDS["proxy"]["schema"]["format"] == "password"  # Airflow 3's form
    widgets = OFSSchedulerHook.get_connection_form_widgets()
    if widgets:  # Airflow 2.11's form
        from wtforms import PasswordField

        assert widgets["proxy"].field_class is PasswordField


def test_entry_point_resolves_to_get_provider_info():
    entry_points = [
        entry_point
        for entry_point in importlib.metadata.entry_points(group="apache_airflow_provider")
        if entry_point.dist is not None and entry_point.dist.name == DISTRIBUTION
    ]

    assert len(entry_points) == 1
    assert entry_points[0].load() is get_provider_info


@pytest.mark.airflow_e2e
@pytest.mark.timeout(180)
def test_airflow_providers_list_shows_the_package(tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    airflow = str(Path(sys.executable).with_name("airflow"))

    result = subprocess.run(
        [airflow, "providers", "list", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    listing = json.loads(result.stdout[result.stdout.index("[{") :])  # after any log lines
    ours = [provider for provider in listing if provider["package_name"] == DISTRIBUTION]
    assert len(ours) == 1, result.stdout[-2000:]
    assert ours[0]["version"] == importlib.metadata.version(DISTRIBUTION)


def test_the_settle_time_option_defaults_to_the_code_s_value() -> None:
    option = get_provider_info()["config"]["ofs"]["options"]["deferral_settle_seconds"]

    assert float(option["default"]) == DEFERRAL_SETTLE_SECONDS
