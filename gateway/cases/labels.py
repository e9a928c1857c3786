"""Names of hazards as operators and workers read them."""

from contracts import HazardType

HAZARD_LABELS: dict[HazardType, str] = {
    HazardType.OCCUPIED_FACTORY_DORM: "厂房住人 People living in a factory building",
    HazardType.ILLEGAL_WORKSHOP: "非法夜间作坊 Illegal workshop at night",
    HazardType.FIRE_SMOKE: "明火/烟雾 Fire or smoke on camera",
    HazardType.SMOKE_ALARM: "烟感报警 Smoke alarm",
    HazardType.GAS_LEAK: "燃气泄漏 Gas leak",
    HazardType.SIGHTING: "协查线索 Sighting for a broadcast",
    HazardType.CAMERA_OFFLINE: "摄像头离线 Camera offline",
    HazardType.CAMERA_BLOCKED: "摄像头遮挡 Camera blocked or moved",
    HazardType.DEVICE_OFFLINE: "设备离线 Device offline",
    HazardType.LOW_BATTERY: "电量低 Low battery",
    HazardType.TAMPER: "防拆报警 Tamper",
    HazardType.DEVICE_FAULT: "设备故障 Device fault",
}


def hazard_label(hazard: HazardType | str) -> str:
    return HAZARD_LABELS.get(HazardType(hazard), str(hazard))
