// A camera photo made small enough to send on one bar of signal, keeping what the camera said about
// when and where it was taken. The server checks and cleans it again (docs/worker-app.md): this is
// only about sending less.
//
//   const shot = await shrinkPhoto(file);   // { blob, width, height, name, takenAt }
//
// A photo already small enough goes as it is. A larger one is drawn upright onto a canvas at most
// `maxSide` pixels and encoded as JPEG; the camera's EXIF block (time, GPS) is copied into it, with
// its orientation set to "upright" (the pixels were turned already).

const MAX_SIDE = 1600;
const SMALL_ENOUGH = 1.5 * 1024 * 1024;

export async function shrinkPhoto(file, { maxSide = MAX_SIDE, quality = 0.85 } = {}) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const { width, height } = bitmap;
  const name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
  const takenAt = file.lastModified ? new Date(file.lastModified).toISOString() : new Date().toISOString();
  if (Math.max(width, height) <= maxSide && file.size <= SMALL_ENOUGH && file.type === "image/jpeg") {
    bitmap.close();
    return { blob: file, width, height, name: file.name || name, takenAt };
  }
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const small = await new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode failed"))), "image/jpeg", quality));
  const exif = file.type === "image/jpeg" ? uprightExif(new Uint8Array(await file.slice(0, 131072).arrayBuffer())) : null;
  const blob = exif ? new Blob([small.slice(0, 2), exif, small.slice(2)], { type: "image/jpeg" }) : small;
  return { blob, width: w, height: h, name, takenAt };
}

// The APP1 "Exif" segment of a JPEG (marker and length included) with its orientation set to 1,
// or null when there is none.
export function uprightExif(bytes) {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (marker === 0xda || marker === 0xd9) return null;  // image data: no EXIF before it
    const isExif = marker === 0xe1 && String.fromCharCode(...bytes.slice(at + 4, at + 8)) === "Exif";
    if (isExif && at + 2 + length <= bytes.length) {
      const segment = bytes.slice(at, at + 2 + length);
      setOrientation(segment, 10);  // TIFF header after marker (2), length (2), "Exif\0\0" (6)
      return segment;
    }
    at += 2 + length;
  }
  return null;
}

function setOrientation(seg, tiff) {
  const view = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  if (tiff + 8 > seg.length) return;
  const little = view.getUint16(tiff) === 0x4949;
  const ifd0 = tiff + view.getUint32(tiff + 4, little);
  if (ifd0 + 2 > seg.length) return;
  const count = view.getUint16(ifd0, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd0 + 2 + i * 12;
    if (entry + 12 > seg.length) return;
    if (view.getUint16(entry, little) === 0x0112) {
      view.setUint16(entry + 8, 1, little);  // SHORT value, left-justified in the value field
      return;
    }
  }
}
