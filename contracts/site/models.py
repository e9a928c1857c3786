"""Schema of a site's configuration files, one model per file.

Every model rejects unknown keys and documents each field, so that
``gridwatch config check`` can tell an installer exactly what is wrong.
Cross-file rules (a sensor inside some grid, a worker's home grid exists ...)
live in :mod:`contracts.site.checks`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from contracts.clock import TimeZoneName
from contracts.envelope import Identifier
from contracts.geo import GeoPoint
from contracts.hazards import Detection, HazardType, Severity, Unit
from contracts.site.schedule import Schedule


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_schedule(value: object) -> Schedule:
    if isinstance(value, Schedule):
        return value
    return Schedule.parse(value)  # type: ignore[arg-type]


ScheduleSpec = Annotated[
    Schedule,
    BeforeValidator(_parse_schedule),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["Mon-Fri 21:00-06:00", "daily 08:30-17:30", "always"]}),
    Field(description="e.g. 'Mon-Fri 21:00-06:00', 'daily 08:30-17:30' or 'always'."),
]
PixelPoint = tuple[float, float]


# ---------------------------------------------------------------- site.yaml
class SiteInfo(ConfigModel):
    id: Identifier = Field(description="Short id of the site, e.g. 'qingshan'.")
    name: str = Field(min_length=1, max_length=200, description="Name shown to people.")
    timezone: TimeZoneName = Field(default="Asia/Shanghai", description="IANA zone for all schedules.")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class CorrelationSettings(ConfigModel):
    radius_m: float = Field(
        default=250, gt=0, le=5000, description="Same-type events this close join one open case."
    )
    window_s: float = Field(
        default=3600, gt=0, description="An open case with no event for this long stops absorbing new ones."
    )


class DispatchSettings(ConfigModel):
    stale_fix_s: float = Field(
        default=300,
        gt=0,
        description="A worker's GPS fix older than this is ignored; the home-grid centroid stands in.",
    )
    check_in_radius_m: float = Field(
        default=50,
        gt=0,
        le=1000,
        description="A fix this close to the site, and this accurate, counts as on site.",
    )
    max_rings: int = Field(
        default=2,
        ge=0,
        le=10,
        description="How many rings of neighbouring grids the search cascades outward (0 = own grid only).",
    )
    max_open_tasks: int = Field(
        default=3, ge=1, le=50, description="A worker with this many active tasks is busy and skipped."
    )
    decline_cooldown_s: float = Field(
        default=600,
        ge=0,
        description="A worker who declined an offer or let it expire is skipped for other cases this long.",
    )
    eta_rerank_top: int = Field(
        default=0,
        ge=0,
        le=20,
        description=(
            "Re-rank this many of the best candidates (same ring and role as the best) by estimated "
            "arrival time; 0 = rank by straight-line distance only."
        ),
    )
    travel_speed_m_s: float = Field(
        default=4.0, gt=0, le=40, description="Travel speed assumed by the ETA estimate (4 m/s: e-bike)."
    )
    detour_factor: float = Field(
        default=1.3, ge=1, le=5, description="Road distance over straight-line distance, for the ETA."
    )
    unknown_position_penalty_s: float = Field(
        default=120,
        ge=0,
        description="Added to the ETA of a worker placed at the home-grid centroid (no fresh fix).",
    )


class NotifySettings(ConfigModel):
    webhook_timeout_s: float = Field(default=5, gt=0, le=60, description="Give up one HTTP post after this.")
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="Attempts per webhook delivery before it is marked failed."
    )
    backoff_s: float = Field(default=5, gt=0, description="Wait before the first retry; doubles each time.")
    backoff_max_s: float = Field(default=900, gt=0, description="Longest wait between two attempts.")


class PatrolSettings(ConfigModel):
    max_gap_s: float = Field(
        default=300,
        gt=0,
        description="Fixes further apart than this are separate walks: no distance or time between them.",
    )
    max_speed_m_s: float = Field(
        default=25, gt=0, description="A jump faster than this between fixes is a GPS glitch, not distance."
    )
    min_move_m: float = Field(
        default=5, ge=0, description="Moves shorter than this are GPS jitter and not added to the distance."
    )


class MapCoordinates(StrEnum):
    WGS84 = "wgs84"  # GPS, OpenStreetMap-style tiles
    GCJ02 = "gcj02"  # China's consumer maps (AMap/Gaode, Tencent): positions are shifted to match


class MapSettings(ConfigModel):
    """The console's map. It draws the grids itself and needs no tile server; a site with its own
    may put its tiles underneath."""

    tile_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^(https?://|/)[^\s]*\{z\}[^\s]*\{x\}[^\s]*\{y\}[^\s]*$",
        description="XYZ tile address with {z}, {x} and {y}, e.g. https://tiles.example.cn/{z}/{x}/{y}.png "
        "(Web Mercator, 256 px); the pages load it from the operators' browsers.",
    )
    coordinates: MapCoordinates = Field(
        default=MapCoordinates.WGS84, description="What the tiles are drawn in: wgs84 or gcj02."
    )
    attribution: str = Field(default="", max_length=200, description="Shown under the map.")
    max_zoom: int = Field(default=19, ge=1, le=22)


class FleetSettings(ConfigModel):
    """How the gateway watches the site's devices (docs/devices.md)."""

    node_offline_after_s: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="An edge node offline this long (its last will, or it said so) opens one maintenance "
        "case for the installers of its area; the case closes itself when the node is back.",
    )
    commissioning_timeout_s: float = Field(
        default=120,
        gt=0,
        le=3600,
        description="The installer's commissioning check gives up waiting for a first message after this.",
    )


class SiteFile(ConfigModel):
    """``site.yaml``: who the site is and how its gateway behaves."""

    site: SiteInfo
    correlation: CorrelationSettings = CorrelationSettings()
    dispatch: DispatchSettings = DispatchSettings()
    notify: NotifySettings = NotifySettings()
    patrol: PatrolSettings = PatrolSettings()
    map: MapSettings = MapSettings()
    fleet: FleetSettings = FleetSettings()


# ---------------------------------------------------------------- grids.geojson
class GridLevel(StrEnum):
    DISTRICT = "district"  # 区
    STREET = "street"  # 街道 / 镇
    COMMUNITY = "community"  # 社区 / 村
    GRID = "grid"  # 网格, one full-time worker
    MICRO_GRID = "micro_grid"  # 微网格, 50-100 households

    @property
    def parent_level(self) -> GridLevel | None:
        order = list(GridLevel)
        i = order.index(self)
        return order[i - 1] if i else None


class RosterContact(ConfigModel):
    """Someone on a grid's roster card (一长三员) who is not one of GridWatch's grid workers: the grid
    guide (网格指导员), usually a community cadre or the community police officer."""

    name: str = Field(min_length=1, max_length=100)
    title: str = Field(
        default="", max_length=100, description="What they are, e.g. 社区民警 or 社区党委委员."
    )
    phone: str = Field(default="", max_length=32)
    phone_public: bool = Field(
        default=False, description="Print the phone on the grid's roster card (residents call it)."
    )

    @model_validator(mode="after")
    def _phone_to_show(self) -> RosterContact:
        if self.phone_public and not self.phone.strip():
            raise ValueError(
                "phone_public is true but there is no phone to show: add 'phone' or drop phone_public"
            )
        return self


class GridProperties(ConfigModel):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    level: GridLevel
    parent: Identifier | None = Field(default=None, description="Id of the enclosing area.")
    leader: Identifier | None = Field(default=None, description="Worker id of the grid leader (网格长).")
    households: int | None = Field(default=None, ge=0)
    guides: list[RosterContact] = Field(
        default_factory=list,
        max_length=5,
        description="Grid guides (网格指导员) for the roster card (一长三员); a grid only.",
    )


# ---------------------------------------------------------------- workers.yaml
class WorkerRole(StrEnum):
    FULL_TIME = "full_time"  # 专职网格员
    PART_TIME = "part_time"  # 兼职网格员
    GRID_LEADER = "grid_leader"  # 网格长


class Worker(ConfigModel):
    id: Identifier
    name: str = Field(min_length=1, max_length=100)
    role: WorkerRole
    home_grid: Identifier = Field(description="Grid (level 'grid') the worker is responsible for.")
    phone: str = Field(default="", max_length=32)
    phone_public: bool = Field(
        default=False,
        description="Print the phone on the home grid's roster card (一长三员): residents call it. "
        "Default: private (the centre sees it, residents do not).",
    )
    duty: list[ScheduleSpec] = Field(min_length=1, description="When the worker is on duty.")

    @model_validator(mode="after")
    def _phone_to_show(self) -> Worker:
        if self.phone_public and not self.phone.strip():
            raise ValueError(
                "phone_public is true but there is no phone to show: add 'phone' or drop phone_public"
            )
        return self


class WorkersFile(ConfigModel):
    workers: list[Worker] = Field(min_length=1)


# ---------------------------------------------------------------- access.yaml
class TokenEntry(ConfigModel):
    id: Identifier = Field(
        description="Operator id, or a worker id from workers.yaml; the trail records actions under it."
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (lower-case hex) of the token; 'gridwatch auth token <role> <id>' makes both. "
        "The token itself is never stored.",
    )
    note: str = Field(default="", max_length=200, description="For people: whose phone, issued when.")


class AccessFile(ConfigModel):
    """``access.yaml`` (optional): who may act over the HTTP API (``Authorization: Bearer <token>``).

    More tokens can come from the environment (``GRIDWATCH_API_TOKENS``). Without any,
    the API's actions answer 401; its GET routes stay open.
    """

    operators: list[TokenEntry] = Field(
        default_factory=list, description="Command-centre operators: case and task decisions, replays."
    )
    workers: list[TokenEntry] = Field(
        default_factory=list, description="Grid workers' phones: steps on their own tasks, check-ins."
    )


# ---------------------------------------------------------------- nodes/*.yaml
class ZoneType(StrEnum):
    FACTORY_FLOOR = "factory_floor"  # no one may live here
    NO_PRODUCTION_SITE = "no_production_site"  # sealed / unlicensed: no work may happen
    STORAGE = "storage"
    DORMITORY = "dormitory"  # legal living quarters: never an occupied-dorm hazard
    PUBLIC_AREA = "public_area"


class Zone(ConfigModel):
    id: Identifier
    name: str = Field(default="", max_length=200)
    type: ZoneType
    polygon: list[PixelPoint] = Field(min_length=3, description="Pixel vertices in the camera frame.")
    schedules: list[ScheduleSpec] = Field(
        default_factory=list,
        description="When the zone's rules are armed (e.g. night hours); empty = always.",
    )
    rules: list[HazardType] = Field(
        default_factory=list,
        description="Hazard rules armed in this zone; empty = the defaults for the zone type.",
    )


class IgnoreObject(ConfigModel):
    """Something an operator marked as not what the detector thinks it is ("this is a
    signpost"): detections of ``label`` whose box matches ``box`` are dropped on this camera,
    while a real person walking past it is still seen. Made from an event's evidence."""

    label: str = Field(default="person", min_length=1, max_length=50, description="Detector class.")
    box: tuple[float, float, float, float] = Field(
        description="x1, y1, x2, y2 in pixels of the camera's configured resolution."
    )
    note: str = Field(default="", max_length=200, description="What it really is, e.g. 'signpost'.")
    marked_by: str = Field(default="", max_length=100, description="Operator id.")
    event_id: str | None = Field(default=None, max_length=64, description="Event whose evidence showed it.")

    @field_validator("box")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError("box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")
        return value

    @classmethod
    def from_detection(
        cls,
        detection: Detection,
        resolution: tuple[int, int],
        note: str = "",
        marked_by: str = "",
        event_id: str | None = None,
    ) -> IgnoreObject:
        """The mark for one of an event's detections (normalised box) on a camera of
        ``resolution``: what the console's "this is not a person" button stores."""
        w, h = resolution
        b = detection.box
        box = (round(b.x1 * w, 1), round(b.y1 * h, 1), round(b.x2 * w, 1), round(b.y2 * h, 1))
        return cls(label=detection.label, box=box, note=note, marked_by=marked_by, event_id=event_id)


class Camera(ConfigModel):
    id: Identifier
    name: str = Field(default="", max_length=200)
    source: str = Field(min_length=1, description="rtsp://..., http://..., a video file path, or usb:N.")
    resolution: tuple[int, int] = Field(description="Frame width and height in pixels.")
    fps: float = Field(default=5, gt=0, le=60, description="Frames per second to analyse.")
    location: GeoPoint
    zones: list[Zone] = Field(default_factory=list)
    ignore_masks: list[list[PixelPoint]] = Field(
        default_factory=list, description="Polygons never analysed (a road, a TV screen)."
    )
    ignore_objects: list[IgnoreObject] = Field(
        default_factory=list,
        max_length=200,
        description="Objects marked false by operators (a signpost seen as a person); see IgnoreObject.",
    )
    reference_image: str | None = Field(
        default=None,
        description="A picture of the empty scene (path on the node, ${VARS} expanded): what the "
        "detector finds in it are fixtures, never people.",
    )
    enabled: bool = True

    @field_validator("resolution")
    @classmethod
    def _positive(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] <= 0 or value[1] <= 0:
            raise ValueError("width and height must be positive")
        return value


class SensorKind(StrEnum):
    SMOKE = "smoke"
    COMBUSTIBLE_GAS = "combustible_gas"  # natural gas / LPG, %LEL
    TOXIC_GAS = "toxic_gas"  # CO, H2S ... ppm; chemical fumes
    TEMPERATURE = "temperature"


class Zigbee2MqttSource(ConfigModel):
    protocol: Literal["zigbee2mqtt"]
    friendly_name: str = Field(min_length=1, description="zigbee2mqtt friendly name (topic suffix).")
    base_topic: str = Field(default="zigbee2mqtt")


class ModbusRegister(ConfigModel):
    table: Literal["holding", "input"] = "holding"
    address: int = Field(ge=0, le=65535)
    type: Literal["uint16", "int16", "uint32", "int32", "float32"] = "uint16"
    scale: float = Field(default=1.0, description="Engineering value = raw * scale + offset.")
    offset: float = 0.0
    unit: Unit = Unit.PERCENT_LEL
    word_order: Literal["big", "little"] = "big"


class ModbusStatusBits(ConfigModel):
    table: Literal["holding", "input"] = "holding"
    address: int = Field(ge=0, le=65535)
    alarm_bit: int | None = Field(default=None, ge=0, le=15)
    fault_bit: int | None = Field(default=None, ge=0, le=15)
    warmup_bit: int | None = Field(default=None, ge=0, le=15)


class ModbusSource(ConfigModel):
    protocol: Literal["modbus_tcp", "modbus_rtu"]
    host: str | None = Field(default=None, description="TCP: address of the device or gateway.")
    port: int | None = Field(default=None, ge=1, le=65535)
    serial_port: str | None = Field(default=None, description="RTU: e.g. /dev/ttyUSB0.")
    baudrate: int = Field(default=9600, gt=0)
    unit_id: int = Field(default=1, ge=0, le=247)
    value: ModbusRegister
    status: ModbusStatusBits | None = None
    poll_interval_s: float = Field(default=2.0, gt=0)
    timeout_s: float = Field(default=1.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    offline_after_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Polls in a row without an answer before the detector is offline.",
    )

    @model_validator(mode="after")
    def _transport(self) -> ModbusSource:
        if self.protocol == "modbus_tcp" and not self.host:
            raise ValueError("modbus_tcp needs 'host' (and optionally 'port', default 502)")
        if self.protocol == "modbus_rtu" and not self.serial_port:
            raise ValueError("modbus_rtu needs 'serial_port', e.g. /dev/ttyUSB0")
        return self


class GridWatchSource(ConfigModel):
    protocol: Literal["gridwatch"] = Field(description="Publishes GridWatch sensor readings itself.")


class Thresholds(ConfigModel):
    major: float | None = Field(default=None, description="Reading at or above which: major.")
    critical: float | None = Field(default=None, description="Reading at or above which: critical.")
    clear_below: float | None = Field(
        default=None, description="Alarm clears only below this (hysteresis); default 80% of major."
    )
    hold_s: float = Field(default=0, ge=0, description="Must stay above a threshold this long.")
    repeat: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Consecutive readings past a threshold (up to raise, below clear_below to clear) "
        "before the alarm changes: debounce for noisy or chattering detectors.",
    )
    unit: Unit | None = Field(
        default=None,
        description="Unit of major/critical/clear_below; only readings in this unit are compared. "
        "Default: %LEL for combustible gas, ppm for toxic gas.",
    )

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.major is not None and self.critical is not None and self.critical < self.major:
            raise ValueError("critical must be at or above major")
        if self.clear_below is not None and self.major is not None and self.clear_below > self.major:
            raise ValueError("clear_below must be at or below major, or alarms would flap")
        only_critical = self.major is None and self.critical is not None
        if self.clear_below is not None and only_critical and self.clear_below > self.critical:  # type: ignore[operator]
            raise ValueError("clear_below must be at or below critical, or alarms would flap")
        return self


# GB/T 50493-2019 (detection and alarm of combustible and toxic gases): the first-level
# alarm at most 25 %LEL and the second-level at most 50 %LEL for combustible gas; for toxic
# gas at most 100 % and 200 % of the occupational exposure limit. The toxic defaults assume
# carbon monoxide (OEL 30 mg/m³ ≈ 25 ppm, GBZ 2.1); set thresholds for other gases.
DEFAULT_THRESHOLDS: dict[SensorKind, Thresholds] = {
    SensorKind.COMBUSTIBLE_GAS: Thresholds(major=25, critical=50, unit=Unit.PERCENT_LEL),
    SensorKind.TOXIC_GAS: Thresholds(major=25, critical=50, unit=Unit.PPM),
}


class Sensor(ConfigModel):
    id: Identifier
    name: str = Field(default="", max_length=200)
    kind: SensorKind
    location: GeoPoint
    source: Annotated[Zigbee2MqttSource | ModbusSource | GridWatchSource, Field(discriminator="protocol")]
    near_cameras: list[Identifier] = Field(
        default_factory=list, description="Cameras on this node that see the sensor's room."
    )
    report_interval_s: float = Field(
        default=600,
        gt=0,
        description="Silence longer than this (x2) makes the sensor 'offline' (maintenance).",
    )
    thresholds: Thresholds | None = Field(
        default=None,
        description="Overrides the defaults key by key (combustible gas 25/50 %LEL, toxic gas 25/50 ppm; "
        "smoke detectors alarm on their own 'smoke' state unless thresholds are set).",
    )

    @property
    def effective_thresholds(self) -> Thresholds | None:
        """The kind's defaults with the keys this sensor sets; None: no numeric alarm."""
        default = DEFAULT_THRESHOLDS.get(self.kind)
        if self.thresholds is None:
            return default
        own = {k: getattr(self.thresholds, k) for k in self.thresholds.model_fields_set}
        if isinstance(self.source, ModbusSource) and "unit" not in own and {"major", "critical"} & set(own):
            own["unit"] = self.source.value.unit  # numbers written for this register are in its unit
        if default is None:
            return Thresholds.model_validate({**self.thresholds.model_dump(), **own})
        return Thresholds.model_validate({**default.model_dump(), **own})

    @model_validator(mode="after")
    def _thresholds_fit(self) -> Sensor:
        own = self.thresholds
        if own is not None and (own.major is not None or own.critical is not None):
            if self.kind is SensorKind.TEMPERATURE:
                raise ValueError("temperature sensors report telemetry only; remove 'thresholds'")
            if (
                self.kind not in DEFAULT_THRESHOLDS
                and own.unit is None
                and not isinstance(self.source, ModbusSource)
            ):
                raise ValueError(
                    f"thresholds for a {self.kind.value} sensor need 'unit' (the unit of its readings, "
                    'e.g. dB/m, or "" for zigbee2mqtt\'s unitless smoke_density)'
                )
        limits = self.effective_thresholds
        register = self.source.value.unit if isinstance(self.source, ModbusSource) else None
        if register is not None and limits is not None and limits.unit not in (None, register):
            raise ValueError(
                f"source.value.unit is {register.value!r} but the thresholds are in "
                f"{limits.unit.value!r}; set thresholds.unit and major/critical in the register's unit"  # type: ignore[union-attr]
            )
        return self


class EdgeNodeInfo(ConfigModel):
    id: Identifier
    name: str = Field(default="", max_length=200)
    location: GeoPoint


class EdgeNodeConfig(ConfigModel):
    """``nodes/<node id>.yaml``: one edge node with its cameras and sensors."""

    node: EdgeNodeInfo
    cameras: list[Camera] = Field(default_factory=list)
    sensors: list[Sensor] = Field(default_factory=list)


# ---------------------------------------------------------------- escalation.yaml
class Tier(StrEnum):
    GRID_LEADER = "grid_leader"  # 网格长
    COMMUNITY = "community"  # 社区
    STREET_CENTRE = "street_centre"  # 街道指挥中心
    DEPARTMENT = "department"  # 职能部门: 部门报到
    SUPERVISION = "supervision"  # 上级督办: above every other tier (escalation.yaml 'supervision')


class SlaLimits(ConfigModel):
    """Seconds allowed per phase; ``None`` = no limit for that phase."""

    centre_accept: float | None = Field(default=300, gt=0, description="Centre accepts/forwards (5 min).")
    worker_accept: float | None = Field(default=120, gt=0, description="Worker accepts the offer.")
    on_site: float | None = Field(default=1800, gt=0, description="Worker checks in on site.")
    resolve: float | None = Field(default=7200, gt=0, description="Worker resolves after arriving.")
    verify: float | None = Field(default=86400, gt=0, description="Centre verifies the result.")


class HazardPolicy(ConfigModel):
    urgent: bool = Field(description="Urgent: sent at once, on site within its SLA; else patrol.")
    department: Identifier | None = Field(default=None, description="Department at the last tier.")
    department_by_sensor: dict[SensorKind, Identifier] = Field(
        default_factory=dict,
        description=(
            "Department by the kind of sensor that raised the case, instead of 'department' "
            "(e.g. gas_leak from a toxic_gas sensor: chemical fumes, the environment bureau)."
        ),
    )
    sla: SlaLimits = SlaLimits()
    max_redispatches: int = Field(default=3, ge=0, description="More re-dispatches escalate.")


class WebhookFormat(StrEnum):
    JSON = "json"
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人


class Webhook(ConfigModel):
    url: str = Field(pattern=r"^https?://", description="http(s) URL of the receiver.")
    format: WebhookFormat = WebhookFormat.JSON
    secret: str | None = Field(
        default=None,
        min_length=1,
        description="DingTalk 加签 secret (starts with 'SEC'): requests are signed with timestamp + sign.",
    )


class Contact(ConfigModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=32)
    webhooks: list[Webhook] = Field(default_factory=list)


class NewCaseAlert(ConfigModel):
    """A group robot (企业微信, 钉钉) told of every new case at or above a severity — the duty group
    hears of a fire as it is raised, not only when something slips."""

    name: str = Field(min_length=1, max_length=200, description="Who is told, e.g. 值班群.")
    min_severity: Severity = Field(default=Severity.CRITICAL, description="This severity and worse.")
    hazards: list[HazardType] = Field(default_factory=list, description="Only these hazards; empty = all.")
    webhooks: list[Webhook] = Field(min_length=1)


class EscalationFile(ConfigModel):
    """``escalation.yaml``: SLAs per hazard and who is told when they slip."""

    tiers: list[Tier] = Field(min_length=1, description="Order in which an escalation climbs.")
    default: HazardPolicy
    hazards: dict[HazardType, HazardPolicy] = Field(default_factory=dict)
    departments: dict[Identifier, Contact] = Field(default_factory=dict)
    communities: dict[Identifier, Contact] = Field(
        default_factory=dict, description="Keyed by community area id."
    )
    street_centre: Contact | None = None
    warning_ratio: float = Field(
        default=0.8, gt=0, lt=1, description="Share of an SLA limit used up when a warning is recorded."
    )
    climb_after_s: float | None = Field(
        default=600,
        gt=0,
        description=(
            "While what triggered an escalation is still unresolved, climb to the next tier after this "
            "long; null = climb only on a new trigger."
        ),
    )
    acknowledge_s: float | None = Field(
        default=1800,
        gt=0,
        description=(
            "A department told of a case acknowledges it (部门报到) within this long, or the escalation "
            "goes a tier up: the next tier after 'department' in 'tiers' not yet told, else "
            "'supervision'; null = no deadline."
        ),
    )
    new_case_alerts: list[NewCaseAlert] = Field(
        default_factory=list, description="Group robots told of each new case at or above a severity."
    )
    supervision: Contact | None = Field(
        default=None,
        description=(
            "上级督办: who hears of an escalation no department acknowledged in time when no tier is "
            "left above it (e.g. the district's command centre)."
        ),
    )

    def policy(self, hazard: HazardType) -> HazardPolicy:
        return self.hazards.get(hazard, self.default)


# ---------------------------------------------------------------- patrols.yaml
class CheckpointKind(StrEnum):
    RENTAL_HOUSE = "rental_house"  # 出租屋
    FACTORY = "factory"  # 厂房
    WORKSHOP = "workshop"  # 作坊
    WAREHOUSE = "warehouse"
    SHOP = "shop"
    SCHOOL = "school"
    OTHER = "other"


class Checkpoint(ConfigModel):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    kind: CheckpointKind
    location: GeoPoint


class PatrolRoute(ConfigModel):
    worker: Identifier = Field(description="Worker id from workers.yaml who walks this route daily.")
    checkpoints: list[Identifier] = Field(min_length=1, description="Checkpoint ids in walking order.")
    start: GeoPoint | None = Field(
        default=None, description="Where the walk starts; default: the centroid of the worker's home grid."
    )


class PatrolsFile(ConfigModel):
    """``patrols.yaml`` (optional): checkpoints and each worker's daily patrol route."""

    checkpoints: list[Checkpoint] = Field(default_factory=list)
    routes: list[PatrolRoute] = Field(default_factory=list)

    def route_of(self, worker_id: str) -> PatrolRoute | None:
        return next((r for r in self.routes if r.worker == worker_id), None)

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == checkpoint_id), None)
