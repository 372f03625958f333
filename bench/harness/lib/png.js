'use strict';
// Real PNG files of a chosen size without any image library: random RGB
// pixels stored uncompressed (deflate level 0), so the file size is what was
// asked for (within a row) and every decoder accepts the image.
const zlib = require('node:zlib');
const crypto = require('node:crypto');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

// A PNG of about `bytes` bytes (at least a 16x16 image).
function makePng(bytes) {
  const width = Math.max(16, Math.round(Math.sqrt(bytes / 3)));
  const height = Math.max(16, Math.round(bytes / (3 * width + 1)));
  const raw = crypto.randomBytes((3 * width + 1) * height);
  for (let y = 0; y < height; ++y) raw[y * (3 * width + 1)] = 0; // filter: none
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 0 })),
    chunk('IEND', Buffer.alloc(0))]);
}

module.exports = { makePng };
