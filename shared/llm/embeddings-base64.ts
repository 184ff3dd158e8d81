/**
 * OpenAI's `encoding_format: "base64"`: each vector as its float32 values, little-endian, in one
 * base64 string. The SDKs decode it with `new Float32Array(buffer)`, so the byte order is fixed
 * here with a DataView rather than left to the platform.
 */
export function encodeFloat32Base64(vector: readonly number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  let binary = '';
  // Chunks keep String.fromCharCode's argument list bounded on long vectors.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function decodeFloat32Base64(text: string): number[] {
  const binary = atob(text);
  if (binary.length % 4 !== 0) throw new RangeError('base64 embedding is not a whole number of float32s');
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const out = new Array<number>(binary.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
