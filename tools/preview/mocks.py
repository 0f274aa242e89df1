"""Run the Pulumi program offline: the stack's config as the CLI passes it, and Pulumi mocks.

The one mocks module of the project: the tests and the offline preview both run the program
through `run_program`, so what they show is what `pulumi up` would be asked to declare.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import logging
import os
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import Mocks

from configuration.base import SERVICE_NAME_ENV
from configuration.cli import (
    PLACEHOLDER_KUBECONFIG,
    PLACEHOLDER_SECRET,
    PLACEHOLDER_SERVICE_NAME,
    PROJECT_DIR,
    cli_config,
)
from configuration.cluster import DEFAULT_KUBERNETES_VERSION
from configuration.controllers import SIDE_BY_SIDE_SERVICE
from tools.preview.recorded import ProgramRun, Registration, alias_urns, masked, timeouts

# Documentation values (RFC 5737, a placeholder id): nothing here looks like a real credential.
LOAD_BALANCER_IP = "203.0.113.10"
# Each load balancer has its own address: Traefik's side-by-side Service gets another one.
SIDE_BY_SIDE_IP = "203.0.113.20"
# What a referenced stack (cluster.mode stack) exports, when a run is not given other outputs.
REFERENCED_STACK_OUTPUTS: dict[str, Any] = {
    "kubeconfig": PLACEHOLDER_KUBECONFIG,
    "clusterId": "0" * 8 + "-shared-cluster",
    "clusterName": "sticky-shared",
    "region": "GRA9",
    "kubernetesVersion": DEFAULT_KUBERNETES_VERSION,
    "ingressClassName": "nginx",
    "loadBalancerAddress": LOAD_BALANCER_IP,
}
REFERENCED_SECRET_OUTPUTS = ("kubeconfig",)
CREATION_KUBECONFIG = PLACEHOLDER_KUBECONFIG + "# stale: the one the cluster had at creation\n"


def _fake_uuid(name: str) -> str:
    digits = _fake_id(name)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:32]}"


def _fake_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


class OfflineMocks(Mocks):
    """What the providers would answer: the inputs echoed, plus the outputs the program reads."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        # Outputs of referenced stacks, by stack name; any other name gets the default ones.
        self.stack_outputs = stack_outputs or {}

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs.get("name") or args.name
            outputs = self.stack_outputs.get(name, REFERENCED_STACK_OUTPUTS)
            secret = [key for key in REFERENCED_SECRET_OUTPUTS if key in outputs]
            return name, state | {"outputs": dict(outputs), "secretOutputNames": secret}
        if args.typ == "ovh:CloudProject/kube:Kube":
            # As the cluster was created: the program must use the one getKube reads afresh.
            state |= {"kubeconfig": CREATION_KUBECONFIG, "status": "READY"}
            return _fake_id(args.name), state
        if args.typ == "ovh:CloudProject/networkPrivate:NetworkPrivate":
            state["regionsAttributes"] = [
                {"region": region, "openstackid": _fake_uuid(f"{args.name}/{region}")}
                for region in args.inputs.get("regions") or []
            ]
        if args.typ == "ovh:CloudProject/s3Credential:S3Credential":  # the state bucket's user
            state |= {"accessKeyId": _fake_id(args.name), "secretAccessKey": PLACEHOLDER_SECRET}
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {
                "name": args.inputs.get("name"),
                "namespace": args.inputs.get("namespace"),
                "chart": args.inputs.get("chart"),
                "version": args.inputs.get("version"),
                "status": "deployed",
                "revision": 1,
            }
            return f"{args.inputs.get('namespace')}/{args.inputs.get('name')}", state
        if args.typ == "kubernetes:core/v1:Service" and args.resource_id:
            namespace, _, name = args.resource_id.partition("/")
            side_by_side = name.endswith(f"-{SIDE_BY_SIDE_SERVICE}")
            address = SIDE_BY_SIDE_IP if side_by_side else LOAD_BALANCER_IP
            state |= {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
            }
            return args.resource_id, state
        metadata = args.inputs.get("metadata") or {}
        if args.typ.startswith("kubernetes:") and metadata.get("name"):
            namespace = metadata.get("namespace")
            return f"{namespace}/{metadata['name']}" if namespace else metadata["name"], state
        return _fake_id(args.name), state

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "ovh:CloudProject/getKube:getKube":  # the kubeconfig read afresh
            return {"id": args.args.get("kubeId"), "kubeconfig": PLACEHOLDER_KUBECONFIG}, []
        return {}, []


class _LogRecorder(logging.Handler):
    def __init__(self, logs: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.logs = logs

    def emit(self, record: logging.LogRecord) -> None:
        self.logs.append((record.levelname, record.getMessage()))


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# Runs kept by what decides them, while `remembered_runs()` is active (the test session):
# the same configuration always declares the same resources, so it runs once.
_REMEMBERED: dict[str, ProgramRun] | None = None


@contextlib.contextmanager
def remembered_runs() -> Iterator[None]:
    global _REMEMBERED
    _REMEMBERED = {}
    try:
        yield
    finally:
        _REMEMBERED = None


def _run_key(
    stack: str,
    overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    project_dir: Path,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None,
) -> str:
    """Everything a run depends on: the project's files, the arguments, the environment."""
    files = {
        name: hashlib.sha256((project_dir / name).read_bytes()).hexdigest()
        if (project_dir / name).is_file()
        else None
        for name in ("Pulumi.yaml", f"Pulumi.{stack}.yaml", "__main__.py")
    }
    relevant_environ = {
        k: v for k, v in os.environ.items() if k.startswith(("OVH_", "PULUMI_", "STICKY_"))
    }
    return json.dumps(
        [stack, overrides, environ, str(project_dir), stack_outputs, files, relevant_environ],
        sort_keys=True,
        default=repr,
    )


# The mock monitor runs in the SDK's executor threads and gives each an event loop of its own
# (pulumi runtime/mocks.py, _ensure_event_loop), never closed: at exit, each would be
# collected unclosed ("unclosed event loop", "Exception ignored in BaseEventLoop.__del__"). The
# program's monitor makes those loops itself and closes them when the process ends.
_THREAD_LOOPS: list[asyncio.AbstractEventLoop] = []


def _own_thread_loop() -> None:
    if threading.current_thread() is threading.main_thread():
        return
    try:
        asyncio.get_event_loop()
    except RuntimeError:  # this executor thread has none yet
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        _THREAD_LOOPS.append(loop)


@atexit.register
def _close_thread_loops() -> None:
    for loop in _THREAD_LOOPS:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProgramRun:
    """Run __main__.py of `project_dir` under mocks with the stack's config; never raises for
    the program's own errors (they are in `ProgramRun.error`).

    Without an OVHcloud project id in the config or the environment, a placeholder is used so
    that a stack can be shown without a cloud account.
    """
    if _REMEMBERED is None:
        return _run_program(stack, overrides, environ, project_dir, stack_outputs)
    key = _run_key(stack, overrides, environ, project_dir, stack_outputs)
    if key not in _REMEMBERED:
        _REMEMBERED[key] = _run_program(stack, overrides, environ, project_dir, stack_outputs)
    return _REMEMBERED[key]


def _run_program(
    stack: str,
    overrides: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    project_dir: Path,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None,
) -> ProgramRun:
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import rpc, settings
    from pulumi.runtime.stack import Stack, run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    config = cli_config(stack, overrides, project_dir)
    run = ProgramRun(config)

    class RecordingMonitor(pulumi_mocks.MockMonitor):
        def _record(self, request: Any, response: Any, read: bool) -> None:
            urn = response.urn
            registered = self.resources.get(urn)
            properties = request.properties if read else request.object
            run.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=urn,
                    id=registered.id if registered else "",
                    parent=request.parent,
                    custom=read or bool(request.custom),
                    inputs=masked(rpc.deserialize_properties(properties)),
                    dependencies=list(getattr(request, "dependencies", [])),
                    provider=request.provider,
                    protect=bool(getattr(request, "protect", False)),
                    delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
                    delete_before_replace_defined=bool(
                        getattr(request, "deleteBeforeReplaceDefined", False)
                    ),
                    read=read,
                    ignore_changes=list(getattr(request, "ignoreChanges", [])),
                    replace_on_changes=list(getattr(request, "replaceOnChanges", [])),
                    custom_timeouts=timeouts(getattr(request, "customTimeouts", None)),
                    aliases=alias_urns(getattr(request, "aliases", []), urn),
                )
            )

        def RegisterResource(self, request: Any) -> Any:
            _own_thread_loop()
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                self._record(request, response, read=False)
            return response

        def Invoke(self, request: Any) -> Any:
            _own_thread_loop()
            arguments = masked(rpc.deserialize_properties(request.args))
            run.invokes.append((request.tok, arguments))
            return super().Invoke(request)

        def ReadResource(self, request: Any) -> Any:
            _own_thread_loop()
            response = super().ReadResource(request)
            self._record(request, response, read=True)
            return response

    logger = logging.getLogger("sticky-sessions.offline")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    recorder = _LogRecorder(run.logs)
    logger.addHandler(recorder)

    extra_env = dict(environ or {})
    if not os.environ.get(SERVICE_NAME_ENV) and SERVICE_NAME_ENV not in extra_env:
        extra_env[SERVICE_NAME_ENV] = PLACEHOLDER_SERVICE_NAME
        run.notes.append(
            f"no OVHcloud project id in {SERVICE_NAME_ENV}: a create-mode cluster gets the "
            f"placeholder {PLACEHOLDER_SERVICE_NAME} unless cluster.serviceName is set"
        )

    # Each run gets its own event loop: a previous asyncio.run() leaves the thread without one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def said_once(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A program that fails with a RunError (a configuration or reference problem) leaves
        # outputs and log tasks that depended on it holding that same error; it is reported
        # once, as run.error, not again whenever they are collected. Anything else is printed.
        exception = context.get("exception")
        if "never retrieved" in str(context.get("message")) and isinstance(
            exception, pulumi.RunError
        ):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(said_once)
    # A failed run may leave outputs pending on its (closed) loop: they are not this run's.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config.values, sorted(config.secret_keys))
    mocks = OfflineMocks(stack_outputs)
    pulumi_mocks.set_mocks(
        mocks,
        project=config.project,
        stack=stack,
        preview=False,
        logger=logger,
        monitor=RecordingMonitor(mocks),
    )
    root = settings.get_root_resource()
    assert isinstance(root, Stack)  # set_mocks made it
    main = project_dir / "__main__.py"

    async def program() -> None:
        runpy.run_path(str(main), run_name="__main__")
        for name, value in root.outputs.items():
            output = pulumi.Output.from_input(value)
            run.outputs[name] = await output.future()
            if await output.is_secret():
                run.secret_outputs |= {name}

    sys.path.insert(0, str(project_dir))
    try:
        with _environment(extra_env):
            _sync_await(run_pulumi_func(program))
    except Exception as error:  # the program's own failure is a result, not a crash of the runner
        run.error = error
    finally:
        sys.path.remove(str(project_dir))
        logger.removeHandler(recorder)
        pulumi.runtime.set_all_config({}, [])
        # A failed program leaves outputs waiting on resources that never came: end them.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    return run
