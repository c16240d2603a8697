/**
 * Byte helpers every runtime here shares (both Workers, the reference client): reading a stream
 * under a hard cap, and CRC-32 as zip stores it. Web APIs only.
 */

/**
 * Reads `body` to the end, or calls `tooLarge` (which throws) as soon as more than `max` bytes
 * arrived, after cancelling the stream: the rest is never read, whatever a Content-Length said.
 */
export async function readCapped(body: ReadableStream<Uint8Array>, max: number, tooLarge: () => never): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel("too large").catch(() => {});
      tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/** Continues a CRC-32 (IEEE 802.3) over `data`; start with 0xffffffff, finish with `crc32Final`. */
export function crc32Update(crc: number, data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

export const crc32Final = (crc: number) => (crc ^ 0xffffffff) >>> 0;

/** CRC-32 of `bytes`, as zip stores it. */
export const crc32 = (bytes: Uint8Array) => crc32Final(crc32Update(0xffffffff, bytes));
