/**
 * Draws the Teams app icons (appPackage/color.png 192×192 and outline.png 32×32): two chain
 * links, white on Linkgate's accent colour for the colour icon, white on transparent for the
 * outline icon, as the Teams manifest requires
 * (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package#app-icons).
 * Run `npx tsx scripts/teams-icons.ts` after changing the drawing; the PNGs are committed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

export const ACCENT = { r: 0x0f, g: 0x6c, b: 0xbd };

type Rgba = [number, number, number, number];

/** Distance from p to the segment a–b. */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const [dx, dy] = [bx - ax, by - ay];
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Coverage of the two links at a point of the unit square (1 inside the stroke). */
function links(x: number, y: number, stroke: number): boolean {
  const ring = (ax: number, ay: number, bx: number, by: number) => Math.abs(segmentDistance(x, y, ax, ay, bx, by) - 0.14) < stroke;
  return ring(0.27, 0.66, 0.45, 0.48) || ring(0.55, 0.52, 0.73, 0.34);
}

function roundedSquare(x: number, y: number, radius: number): boolean {
  const qx = Math.max(Math.abs(x - 0.5) - (0.5 - radius), 0);
  const qy = Math.max(Math.abs(y - 0.5) - (0.5 - radius), 0);
  return Math.hypot(qx, qy) <= radius;
}

/** Renders with 4×4 supersampling; `shade` gives the colour at a point, or undefined for none. */
function render(size: number, shade: (x: number, y: number) => Rgba | undefined): Buffer {
  const pixels = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let [r, g, b, a] = [0, 0, 0, 0];
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const colour = shade((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size);
          if (!colour) continue;
          r += colour[0] * colour[3];
          g += colour[1] * colour[3];
          b += colour[2] * colour[3];
          a += colour[3];
        }
      }
      const offset = (py * size + px) * 4;
      pixels[offset] = a ? Math.round(r / a) : 0;
      pixels[offset + 1] = a ? Math.round(g / a) : 0;
      pixels[offset + 2] = a ? Math.round(b / a) : 0;
      pixels[offset + 3] = Math.round((a / (n * n)) * 255);
    }
  }
  return encodePng(size, size, pixels);
}

/** A minimal PNG writer: 8-bit RGBA, no filtering, one IDAT chunk. */
export function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, no filter, no interlace
  const rows = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

export function colorIcon(): Buffer {
  return render(192, (x, y) => {
    if (!roundedSquare(x, y, 0.18)) return undefined;
    return links(x, y, 0.045) ? [255, 255, 255, 1] : [ACCENT.r, ACCENT.g, ACCENT.b, 1];
  });
}

export function outlineIcon(): Buffer {
  return render(32, (x, y) => (links(x, y, 0.06) ? [255, 255, 255, 1] : undefined));
}

if (require.main === module) {
  const dir = join(__dirname, '..', 'appPackage');
  writeFileSync(join(dir, 'color.png'), colorIcon());
  writeFileSync(join(dir, 'outline.png'), outlineIcon());
  console.log('Wrote appPackage/color.png and appPackage/outline.png');
}
