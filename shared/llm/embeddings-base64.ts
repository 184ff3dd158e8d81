import { Buffer } from 'node:buffer';

/**
 * OpenAI's `encoding_format: "base64"`: each vector as its float32 values, little-endian, in one
 * base64 string. The SDKs decode it with `new Float32Array(buffer)`, so the byte order is fixed
 * here with a DataView rather than left to the platform. The base64 is the runtime's
 * (`node:buffer`, native on workerd and Node): `btoa` over `String.fromCharCode(...bytes)`, which
 * it replaced, cost ~0.3 ms per 1536-float vector on workerd (issue #23), more than all the rest
 * of an embeddings request; this is ~7 µs.
 */
export function encodeFloat32Base64(vector: readonly number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  return Buffer.from(bytes.buffer).toString('base64');
}

/**
 * The floats of a base64 float32 vector. `atob` judges the text, as it always has (whitespace and
 * missing padding pass, anything else that is not base64 throws); the bytes are then copied out
 * by the runtime rather than one `charCodeAt` at a time. (A Float32Array view would need no loop
 * but `Array.from` over it is slower on V8 than this DataView loop.)
 */
export function decodeFloat32Base64(text: string): number[] {
  const binary = atob(text);
  if (binary.length % 4 !== 0) throw new RangeError('base64 embedding is not a whole number of float32s');
  const bytes = Buffer.from(binary, 'latin1');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(binary.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Whether `text` is exactly the string `encodeFloat32Base64` would send for the floats it holds
 * (base64 with its padding, no whitespace, zero unused bits, whole float32s), so that a route can
 * send an upstream's string on instead of decoding and encoding it again: the caller gets the
 * same bytes either way (a NaN keeps the upstream's bits, where a round trip may give another NaN).
 */
export function isCanonicalFloat32Base64(text: string): boolean {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return false;
  }
  return binary.length % 4 === 0 && btoa(binary) === text;
}
