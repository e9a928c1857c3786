// A new task must be noticed in a pocket: vibration and a sound (made here, no audio file), and the
// card flashes. Browsers only let a page make sound after a touch, so the first touch anywhere
// readies the sound.
let audio = null;

export function readySound() {
  const start = () => {
    try {
      audio ??= new (window.AudioContext || window.webkitAudioContext)();
      audio.resume?.();
    } catch {
      /* no Web Audio: vibration alone */
    }
  };
  addEventListener("pointerdown", start, { once: true, capture: true });
  addEventListener("keydown", start, { once: true, capture: true });
}

function beep(at, freq) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = "square";
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
  osc.connect(gain).connect(audio.destination);
  osc.start(at);
  osc.stop(at + 0.3);
}

export function newTaskAlert(urgent) {
  try {
    navigator.vibrate?.(urgent ? [400, 150, 400, 150, 400] : [300, 150, 300]);
  } catch {
    /* vibration not allowed here */
  }
  if (!audio) return;
  const now = audio.currentTime;
  const tones = urgent ? [880, 660, 880, 660] : [880, 660];
  tones.forEach((freq, i) => beep(now + i * 0.32, freq));
}
