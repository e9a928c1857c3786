"""``gridwatch``: one command line for every part of the system."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from contracts.logs import setup_logging
from gridwatch.auth_cli import auth_app
from gridwatch.broker_cli import broker_app
from gridwatch.certs_cli import certs_app
from gridwatch.db_cli import db_app
from gridwatch.deadletters_cli import deadletters_app
from gridwatch.devices_cli import devices_app
from gridwatch.eval_cli import eval_command
from gridwatch.mqtt_options import PasswordOpt, TlsCaOpt, TlsCertOpt, TlsKeyOpt, UserOpt, broker_fields

if TYPE_CHECKING:
    from edge.simulator import Broker
from gridwatch.users_cli import users_app

# OpenCV's own warnings (e.g. on each failed RTSP open) say less than our camera log lines;
# set before anything imports cv2.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

app = typer.Typer(
    help="GridWatch: cameras and sensors raise suspicions; grid workers verify on site.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
config_app = typer.Typer(help="Site configuration.", no_args_is_help=True)
edge_app = typer.Typer(help="Edge node and device simulators.", no_args_is_help=True)
contracts_app = typer.Typer(help="Contracts: AsyncAPI, JSON Schema, OpenAPI.", no_args_is_help=True)
models_app = typer.Typer(help="Detector models: list, verify, download.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(edge_app, name="edge")
app.add_typer(contracts_app, name="contracts")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(auth_app, name="auth")
app.add_typer(broker_app, name="broker")
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")
app.add_typer(certs_app, name="certs")
app.add_typer(devices_app, name="devices")
app.command("eval")(eval_command)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_T = TypeVar("_T")


def settings_or_exit(build: Callable[[], _T]) -> _T:
    """Settings made from the options and the GRIDWATCH_* environment (a systemd EnvironmentFile,
    docker/.env); a value that cannot be used ends the command with the variable, its value, what
    it must be and the setting's meaning — exit status 2, no traceback."""
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings

    try:
        return build()
    except ValidationError as exc:
        model = next((m for m in _settings_models() if m.__name__ == exc.title), None)
        err.print(f"[bold red]{exc.error_count()} setting(s) cannot be used[/] ({exc.title}):")
        for e in exc.errors():
            loc = [str(part) for part in e["loc"]]
            name, field = loc[0] if loc else "", None
            if model is not None and issubclass(model, BaseSettings):
                prefix = model.model_config.get("env_prefix") or ""
                delimiter = model.model_config.get("env_nested_delimiter") or "__"
                name = (prefix + delimiter.join(loc)).upper()
                field = model.model_fields.get(loc[0]) if loc else None
            value = e.get("input")
            shown = f"{name}={value!r}" if isinstance(value, str | int | float) else name
            err.print(f"  [bold]{escape(shown)}[/]: {escape(e['msg'])}", highlight=False)
            if field is not None and field.description:
                err.print(f"      [dim]{escape(field.description)}[/]", highlight=False)
        err.print(
            "  fix: change or remove it in the environment (the service's env file, e.g. "
            "/etc/gridwatch/gridwatch.env or docker/.env), or the command-line option that sets it",
            highlight=False,
        )
        raise typer.Exit(2) from None


def _settings_models() -> list[type]:
    from cloud_api.settings import ApiSettings
    from edge.settings import BrokerSettings, EdgeSettings, OutboxSettings
    from gateway.settings import GatewaySettings, MqttSettings
    from gateway.telemetry_influx import InfluxSettings

    return [
        ApiSettings,
        BrokerSettings,
        EdgeSettings,
        OutboxSettings,
        GatewaySettings,
        MqttSettings,
        InfluxSettings,
    ]


SiteOpt = Annotated[
    Path, typer.Option("--site", envvar="GRIDWATCH_SITE_DIR", help="Site configuration directory.")
]
DbOpt = Annotated[
    str, typer.Option("--db", envvar="GRIDWATCH_DATABASE_URL", help="SQLAlchemy URL of the store.")
]
HostOpt = Annotated[str, typer.Option("--mqtt-host", envvar="GRIDWATCH_MQTT_HOST", help="MQTT broker host.")]
PortOpt = Annotated[int, typer.Option("--mqtt-port", envvar="GRIDWATCH_MQTT_PORT", help="MQTT broker port.")]
LogOpt = Annotated[str, typer.Option("--log-level", envvar="GRIDWATCH_LOG_LEVEL")]
DEFAULT_SITE = Path("device_configs/demo_site")


@config_app.command("check")
def config_check(
    directory: Annotated[
        Path | None,
        typer.Argument(
            envvar="GRIDWATCH_SITE_DIR",
            show_default=False,
            help=f"Site directory (default: {DEFAULT_SITE}, from here or from this GridWatch checkout).",
        ),
    ] = None,
    max_file_mb: Annotated[
        float | None,
        typer.Option(
            "--max-file-mb",
            min=0.001,
            help="Refuse larger site files (default 4, or GRIDWATCH_SITE_MAX_FILE_MB).",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail the check too.")] = False,
) -> None:
    """Check a site directory and report every problem with file, key and fix.

    Also checks the API tokens in GRIDWATCH_API_TOKENS when it is set. Exit status 1 when the
    site has errors (or, with --strict, warnings)."""
    from contracts.site import check_site
    from contracts.site.access import ENV_VAR, check_grants, grants_from_file, parse_env
    from contracts.site.reading import ReadLimits

    directory = directory or _default_site()
    limits = ReadLimits(max_file_mb=max_file_mb) if max_file_mb else None
    site, problems = check_site(directory, limits, warnings=True)
    env_grants, env_problems = parse_env(os.environ.get(ENV_VAR, ""))
    problems += env_problems
    if site is not None:
        file_grants = grants_from_file(site.access)
        env_problems = check_grants([*file_grants, *env_grants], site.workers, "environment")
        problems += [p for p in env_problems if p.where.startswith(ENV_VAR)]
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    for title, colour, listed in (("problem(s)", "red", errors), ("warning(s)", "yellow", warnings)):
        if listed:
            err.print(f"[bold {colour}]{len(listed)} {title}[/] in {escape(str(directory))}:")
        _print_problems(listed, directory)
    if errors or (strict and warnings):
        raise typer.Exit(1)
    assert site is not None
    cameras = sum(len(n.cameras) for n in site.nodes.values())
    sensors = sum(len(n.sensors) for n in site.nodes.values())
    out.print(
        f"[green]OK[/] site {site.settings.site.id!r} ({escape(str(directory))}): {len(site.areas)} areas "
        f"({len(site.grids)} grids), {len(site.workers)} workers, {len(site.nodes)} edge nodes, "
        f"{cameras} cameras, {sensors} sensors, {len(site.patrols.routes)} patrol routes, "
        f"API tokens: {len(site.access.operators)} operator(s) and {len(site.access.workers)} worker(s) "
        f"in access.yaml, {len(env_grants)} in {ENV_VAR}"
        + (f"; {len(warnings)} warning(s) above" if warnings else "")
    )


def _print_problems(problems: list, directory: Path) -> None:  # type: ignore[type-arg]
    """One entry per problem; the same message and fix at several places is one entry naming them all."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in problems:
        groups.setdefault((p.file, p.message, p.hint), []).append(p.where)
    for (file, message, hint), places in groups.items():
        if places == ["(directory)"] and not directory.is_absolute():
            checkout = Path(__file__).resolve().parents[1] / directory
            if checkout.is_dir() and not directory.exists():
                hint = f"did you mean {checkout}? " + hint
        where = ", ".join(places)
        err.print(f"  [bold]{escape(file)}[/] · {escape(where)}: {escape(message)}", highlight=False)
        err.print(f"      [dim]hint: {escape(hint)}[/]", highlight=False)


def _default_site() -> Path:
    """``device_configs/demo_site`` from the current directory, else from the checkout GridWatch runs from."""
    if DEFAULT_SITE.is_dir():
        return DEFAULT_SITE
    checkout = Path(__file__).resolve().parents[1] / DEFAULT_SITE
    return checkout if checkout.is_dir() else DEFAULT_SITE


@app.command()
def gateway(
    site: SiteOpt = DEFAULT_SITE,
    db: DbOpt = "sqlite:///gridwatch.db",
    mqtt_host: HostOpt = "127.0.0.1",
    mqtt_port: PortOpt = 1883,
    mqtt_username: UserOpt = None,
    mqtt_password: PasswordOpt = None,
    mqtt_tls_ca: TlsCaOpt = None,
    mqtt_tls_cert: TlsCertOpt = None,
    mqtt_tls_key: TlsKeyOpt = None,
    gateway_id: Annotated[str, typer.Option(envvar="GRIDWATCH_GATEWAY_ID")] = "gateway-1",
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics here.")] = None,
    influx_url: Annotated[
        str | None,
        typer.Option(
            envvar="GRIDWATCH_INFLUX_URL", help="InfluxDB v2 write-compatible server for telemetry."
        ),
    ] = None,
    share_group: Annotated[
        str, typer.Option(envvar="GRIDWATCH_SHARE_GROUP", help="MQTT 5 shared-subscription group.")
    ] = "gateways",
    batch_max: Annotated[int, typer.Option(help="Most messages committed in one transaction.")] = 200,
    outbound_lease_s: Annotated[
        float,
        typer.Option(
            envvar="GRIDWATCH_OUTBOUND_LEASE_S",
            help="A gateway's claim on an outbound message it publishes; a dead gateway's claims are "
            "taken over after this.",
        ),
    ] = 30.0,
    processes: Annotated[
        int,
        typer.Option(
            envvar="GRIDWATCH_GATEWAY_PROCESSES",
            min=1,
            help="Gateway processes on this host sharing the stream (ids <gateway-id>-1..N, metrics ports "
            "from --metrics-port up); one process uses about one core. Keep it fixed for a deployment.",
        ),
    ] = 1,
    log_level: LogOpt = "INFO",
) -> None:
    """Run a gateway: MQTT ingest → cases → dispatch → notifications; telemetry to InfluxDB."""
    from gateway.service import Gateway
    from gateway.settings import GatewaySettings, MqttSettings
    from gateway.telemetry_influx import InfluxSettings

    setup_logging(log_level)
    mqtt = settings_or_exit(
        lambda: MqttSettings(
            host=mqtt_host,
            port=mqtt_port,
            **broker_fields(mqtt_username, mqtt_password, mqtt_tls_ca, mqtt_tls_cert, mqtt_tls_key),
        )
    )
    influx = settings_or_exit(lambda: InfluxSettings(url=influx_url))
    settings = settings_or_exit(
        lambda: GatewaySettings(
            gateway_id=gateway_id,
            site_dir=site,
            database_url=db,
            metrics_port=metrics_port,
            share_group=share_group or None,
            batch_max=batch_max,
            outbound_lease_s=outbound_lease_s,
            mqtt=mqtt,
            influx=influx,
        )
    )
    if processes > 1:
        from gateway.processes import Supervisor

        supervisor = Supervisor(settings, processes, log_level)
        _stop_on_signals(supervisor.stop)
        raise typer.Exit(supervisor.run())
    gw = Gateway(settings)
    _stop_on_signals(gw.stop)
    gw.run()


@app.command()
def api(
    site: SiteOpt = DEFAULT_SITE,
    db: DbOpt = "sqlite:///gridwatch.db",
    host: Annotated[str, typer.Option(envvar="GRIDWATCH_API_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="GRIDWATCH_API_PORT")] = 8080,
    tls_cert: Annotated[
        Path | None,
        typer.Option(envvar="GRIDWATCH_API_TLS_CERT", help="Serve HTTPS with this certificate (PEM)."),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(envvar="GRIDWATCH_API_TLS_KEY", help="Its key.")] = None,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="FORWARDED_ALLOW_IPS",
            help="Reverse proxies whose X-Forwarded-Proto/For are believed (comma-separated, '*' = any).",
        ),
    ] = "127.0.0.1",
    metrics_port: Annotated[
        int | None,
        typer.Option(
            envvar="GRIDWATCH_API_METRICS_PORT",
            help="Serve Prometheus /metrics (live feed, residents' reports) on this port of --host.",
        ),
    ] = None,
    log_level: LogOpt = "INFO",
) -> None:
    """Serve the HTTP API and web pages (HTTPS with --tls-cert/--tls-key, or behind a reverse proxy)."""
    import uvicorn
    from prometheus_client import start_http_server

    from cloud_api.app import create_app
    from cloud_api.settings import ApiSettings

    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if (tls_cert or tls_key) and (path is None or not path.is_file()):
            err.print(f"[red]{option} {path or '(not given)'}: HTTPS needs both a certificate and its key[/]")
            raise typer.Exit(2)
    setup_logging(log_level)
    if metrics_port:
        # Its own port, like the gateway's and the edge's: scraped without a person's sign-in.
        start_http_server(metrics_port, addr=host)
    api_settings = settings_or_exit(lambda: ApiSettings(site_dir=site, database_url=db))
    uvicorn.run(
        create_app(api_settings),
        host=host,
        port=port,
        log_config=None,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=3,  # open live feeds (SSE) would otherwise hold a restart forever
    )


@edge_app.command("run")
def edge_run(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option(
            "--config", envvar="GRIDWATCH_EDGE_CONFIG", help="The node's file: nodes/<node id>.yaml."
        ),
    ],
    mqtt_host: HostOpt = "127.0.0.1",
    mqtt_port: PortOpt = 1883,
    mqtt_username: UserOpt = None,
    mqtt_password: PasswordOpt = None,
    mqtt_tls_ca: TlsCaOpt = None,
    mqtt_tls_cert: TlsCertOpt = None,
    mqtt_tls_key: TlsKeyOpt = None,
    sensor_mqtt_host: Annotated[
        str | None,
        typer.Option(envvar="GRIDWATCH_SENSOR_MQTT_HOST", help="zigbee2mqtt's broker (default: uplink)."),
    ] = None,
    sensor_mqtt_port: Annotated[int | None, typer.Option(envvar="GRIDWATCH_SENSOR_MQTT_PORT")] = None,
    state_dir: Annotated[
        Path, typer.Option(envvar="GRIDWATCH_EDGE_STATE_DIR", help="Where the outbox lives.")
    ] = Path("var/edge"),
    publish_rate: Annotated[
        float | None, typer.Option(help="Most messages/s to the broker, bounds replays (0 = unlimited).")
    ] = None,
    outbox_capacity: Annotated[
        int | None, typer.Option(help="Messages kept while the uplink is down.")
    ] = None,
    health_interval: Annotated[float, typer.Option(help="Seconds between EdgeHealth messages.")] = 60.0,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics here.")] = None,
    video: Annotated[bool, typer.Option(help="Analyse the node's cameras.")] = True,
    log_level: LogOpt = "INFO",
) -> None:
    """Run an edge node: sensors and cameras in, events out through the store-and-forward outbox."""
    from pydantic import ValidationError

    from contracts.site import SiteConfigError, load_node_config
    from edge.node import EdgeNode
    from edge.outbox import OutboxError
    from edge.sensors.bus import SensorConfigError
    from edge.settings import BrokerSettings, EdgeSettings, OutboxSettings

    setup_logging(log_level)

    def given(option: str) -> bool:
        """Set on the command line or by the option's own variable (GRIDWATCH_MQTT_*), not left at
        its default: only then does it override the GRIDWATCH_EDGE_* settings."""
        source = ctx.get_parameter_source(option)  # typer's own click: its enum, compared by name
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

    def edge_settings() -> EdgeSettings:
        # GRIDWATCH_EDGE_* first (GRIDWATCH_EDGE_UPLINK__USERNAME, _OUTBOX__RECEIPTS, ... as
        # docs/broker-access.md and the installer's configuration bundle say), then the options.
        env = EdgeSettings()
        uplink = env.uplink.model_dump()
        for key, option, value in (
            ("host", "mqtt_host", mqtt_host),
            ("port", "mqtt_port", mqtt_port),
            ("username", "mqtt_username", mqtt_username),
            ("password", "mqtt_password", mqtt_password),
            ("tls_ca", "mqtt_tls_ca", mqtt_tls_ca),
            ("tls_cert", "mqtt_tls_cert", mqtt_tls_cert),
            ("tls_key", "mqtt_tls_key", mqtt_tls_key),
        ):
            if given(option):
                uplink[key] = value
        uplink.update(
            broker_fields(
                uplink["username"],
                uplink["password"],
                uplink["tls_ca"],
                uplink["tls_cert"],
                uplink["tls_key"],
            )
        )
        sensor_broker = env.sensor_broker
        if sensor_mqtt_host or sensor_mqtt_port:
            sensor_broker = BrokerSettings(
                host=sensor_mqtt_host or uplink["host"], port=sensor_mqtt_port or uplink["port"]
            )
        outbox = env.outbox.model_dump()
        outbox.update(
            {
                k: v
                for k, v in {"publish_rate": publish_rate, "capacity": outbox_capacity}.items()
                if v is not None
            }
        )
        fields = {name: getattr(env, name) for name in EdgeSettings.model_fields}
        fields.update(
            uplink=BrokerSettings(**uplink), sensor_broker=sensor_broker, outbox=OutboxSettings(**outbox)
        )
        for key, option, value in (
            ("state_dir", "state_dir", state_dir),
            ("health_interval_s", "health_interval", health_interval),
            ("metrics_port", "metrics_port", metrics_port),
        ):
            if given(option):
                fields[key] = value
        return EdgeSettings(**fields)

    settings = settings_or_exit(edge_settings)
    try:
        node_config = load_node_config(config)
        node = EdgeNode(node_config, settings, video=video)
    except SiteConfigError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s)[/] in {config}:")
        for p in exc.problems:
            err.print(f"  [bold]{p.file}[/] · {p.where}: {p.message}", highlight=False)
            if p.hint:
                err.print(f"      [dim]hint: {p.hint}[/]", highlight=False)
        raise typer.Exit(2) from None
    except (ValidationError, SensorConfigError, OutboxError) as exc:
        err.print(f"[red]{config}: {exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    stop = threading.Event()
    _stop_on_signals(stop.set)
    node.run(stop)


@edge_app.command("simulate-alarm")
def simulate_alarm(
    device: Annotated[str, typer.Argument(help="Sensor id from the site, e.g. smk-factory-a1.")],
    site: SiteOpt = DEFAULT_SITE,
    mqtt_host: HostOpt = "127.0.0.1",
    mqtt_port: PortOpt = 1883,
    mqtt_username: UserOpt = None,
    mqtt_password: PasswordOpt = None,
    mqtt_tls_ca: TlsCaOpt = None,
    mqtt_tls_cert: TlsCertOpt = None,
    mqtt_tls_key: TlsKeyOpt = None,
    clear: Annotated[bool, typer.Option(help="Send the all-clear instead.")] = False,
    state_dir: Annotated[Path, typer.Option(help="Where sequence numbers are kept.")] = Path("var/sim"),
) -> None:
    """Publish a smoke or gas alarm as the sensor's edge node would."""
    from contracts import EventState
    from contracts.site import load_site
    from edge.simulator import SimulationError, sensor_alarm

    try:
        event = sensor_alarm(
            load_site(site),
            device,
            _sim_broker(
                mqtt_host, mqtt_port, mqtt_username, mqtt_password, mqtt_tls_ca, mqtt_tls_cert, mqtt_tls_key
            ),
            state_dir,
            EventState.CLEAR if clear else EventState.NEW,
        )
    except SimulationError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    out.print(f"published {event.hazard_type.value} ({event.state.value}) from {device}: event {event.id}")


@edge_app.command("simulate-fix")
def simulate_fix(
    worker: Annotated[str, typer.Argument(help="Worker id, e.g. w-ma-li.")],
    lon: float,
    lat: float,
    mqtt_host: HostOpt = "127.0.0.1",
    mqtt_port: PortOpt = 1883,
    mqtt_username: UserOpt = None,
    mqtt_password: PasswordOpt = None,
    mqtt_tls_ca: TlsCaOpt = None,
    mqtt_tls_cert: TlsCertOpt = None,
    mqtt_tls_key: TlsKeyOpt = None,
    state_dir: Annotated[Path, typer.Option(help="Where sequence numbers are kept.")] = Path("var/sim"),
) -> None:
    """Publish a worker's location fix as their phone would."""
    from contracts import GeoPoint
    from edge.simulator import worker_fix

    broker = _sim_broker(
        mqtt_host, mqtt_port, mqtt_username, mqtt_password, mqtt_tls_ca, mqtt_tls_cert, mqtt_tls_key
    )
    fix = worker_fix(worker, GeoPoint(lon=lon, lat=lat), broker, state_dir)
    out.print(f"published location of {worker}: {fix.location.lon}, {fix.location.lat}")


def _sim_broker(host: str, port: int, *auth: object) -> Broker:
    """The broker a simulator talks to, with the site's credentials and TLS like a real device."""
    from contracts.tls import MqttTls
    from edge.simulator import Broker

    fields = broker_fields(*auth)  # type: ignore[arg-type]
    tls = MqttTls(**{k: v for k, v in fields.items() if k.startswith("tls")})
    return Broker(host, port, fields["username"], fields["password"], tls if tls.tls_enabled else None)


@contracts_app.command("export")
def contracts_export(
    directory: Annotated[Path, typer.Argument(help="Where to write asyncapi.yaml and schemas/.")] = Path(
        "docs"
    ),
) -> None:
    """Write docs/asyncapi.yaml (AsyncAPI 3), docs/schemas/*.json and docs/openapi.json (the HTTP
    API) from the models and routes."""
    from cloud_api.app import openapi_document
    from contracts.asyncapi import write_docs

    for path in write_docs(directory):
        out.print(f"wrote {path}")
    openapi = directory / "openapi.json"
    openapi.write_text(openapi_document(), encoding="utf-8")
    out.print(f"wrote {openapi}")


ModelPathOpt = Annotated[
    str | None,
    typer.Option(
        "--model-path",
        envvar="GRIDWATCH_MODEL_PATH",
        help="Directories searched for weights, ':'-separated (default: models/ and ../shared/models of a "
        "checkout; installed: ~/.local/share/gridwatch/models).",
    ),
]
RegistryOpt = Annotated[
    Path | None,
    typer.Option("--registry", envvar="GRIDWATCH_MODEL_REGISTRY", help="Model registry file."),
]


def _model_dirs(model_path: str | None) -> list[Path]:
    from edge.video.detector.registry import search_path

    return search_path([Path(p) for p in model_path.split(os.pathsep) if p] if model_path else None)


@models_app.command("list")
def models_list(model_path: ModelPathOpt = None, registry: RegistryOpt = None) -> None:
    """Show the models in the registry and whether each is installed."""
    from edge.video.detector.registry import ModelError, check, load_registry

    try:
        reg = load_registry(registry)
    except ModelError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    dirs = _model_dirs(model_path)
    for spec in reg.models.values():
        found = check(spec, dirs)
        out.print(
            f"[bold]{spec.name}[/] {spec.family.value} {spec.input[0]}x{spec.input[1]} "
            f"{spec.licence}: {found.status.value}" + (f" ({found.path})" if found.path else ""),
            highlight=False,
        )
    out.print(
        f"[dim]searched: {os.pathsep.join(str(d) for d in dirs)} (GRIDWATCH_MODEL_PATH)[/]", highlight=False
    )


@models_app.command("verify")
def models_verify(
    name: Annotated[str | None, typer.Argument(help="Only this model (it must be installed).")] = None,
    model_path: ModelPathOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Check installed weights against the registry's sha256; exit 1 on any mismatch."""
    from edge.video.detector.registry import ModelError, Status, check, load_registry

    try:
        reg = load_registry(registry)
        specs = [reg.get(name)] if name else list(reg.models.values())
    except ModelError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    dirs = _model_dirs(model_path)
    bad = 0
    for spec in specs:
        found = check(spec, dirs)
        if found.status is Status.OK:
            out.print(f"[green]OK[/] {spec.name}: {found.path}", highlight=False)
        elif found.status in (Status.MISSING, Status.UNPINNED) and not name:
            out.print(f"[dim]-- {spec.name}: not installed ({found.status.value})[/]", highlight=False)
        else:
            bad += 1
            err.print(f"[red]FAIL[/] {spec.name}: {found.detail}", highlight=False)
    if bad:
        raise typer.Exit(1)


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="Registry name, e.g. yolox_nano.")],
    dest: Annotated[
        Path | None, typer.Option(help="Directory to install into (default: the first search directory).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Download from here instead of the registry's url.")] = None,
    model_path: ModelPathOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Download a model and check its sha256; a bad download never replaces a good file."""
    from edge.video.detector.registry import ModelError, load_registry, pull

    try:
        spec = load_registry(registry).get(name)
        target_dir = dest or _model_dirs(model_path)[0]
        path = pull(spec, target_dir, url=url)
    except ModelError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    pinned = (spec.sha256 or "")[:12]
    out.print(f"[green]OK[/] {spec.name} installed at {path} (sha256 {pinned}…)", highlight=False)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its broker, database and logs.")] = Path(
        "var/demo"
    ),
    api_port: Annotated[int, typer.Option(help="HTTP port (0 = any free port).")] = 8080,
    exit_after: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (for scripted runs).")
    ] = None,
    log_level: LogOpt = "INFO",
) -> None:
    """Run the whole pipeline on the embedded defaults: broker, gateway, API, edge nodes, devices."""
    from gridwatch.demo import prepare_workdir, run_demo

    workdir = prepare_workdir(workdir)
    setup_logging(log_level, file=workdir / "gridwatch.log")
    stop = threading.Event()
    _stop_on_signals(stop.set)
    raise typer.Exit(run_demo(workdir, api_port, stop, exit_after, out))


def _stop_on_signals(stop: object) -> None:
    def handler(_sig: int, _frame: object) -> None:
        stop()  # type: ignore[operator]

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


if __name__ == "__main__":
    app()
