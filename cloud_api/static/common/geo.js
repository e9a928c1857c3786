// Where the phone is, and how far that is from a place (WGS-84, metres).
const EARTH_RADIUS_M = 6371008.8;

export function distanceM(lon1, lat1, lon2, lat2) {
  const rad = Math.PI / 180;
  const dp = (lat2 - lat1) * rad;
  const dl = (lon2 - lon1) * rad;
  const a = Math.sin(dp / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dl / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

// 35 → "35 米"-style numbers are the page's business; this says 850 m or 1.2 km.
export function metres(m) {
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

function fixOf(pos) {
  return { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy_m: Math.round(pos.coords.accuracy || 0),
           at: new Date(pos.timestamp || Date.now()).toISOString() };
}

// One fresh position (for a check-in: never an old one).
export function here({ timeout = 15000, maximumAge = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error("no geolocation"));
    navigator.geolocation.getCurrentPosition((pos) => resolve(fixOf(pos)), reject,
      { enableHighAccuracy: true, timeout, maximumAge });
  });
}

// Keep following the phone while the app is open; returns a stop function.
export function follow(onFix, onError) {
  if (!navigator.geolocation) { onError?.(new Error("no geolocation")); return () => {}; }
  const id = navigator.geolocation.watchPosition((pos) => onFix(fixOf(pos)), (err) => onError?.(err),
    { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 });
  return () => navigator.geolocation.clearWatch(id);
}
