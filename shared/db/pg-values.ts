/**
 * Values in and out of Postgres as node-postgres (`pg`) hands them over, which the callers were
 * written against: parameters go as pg's text (JSON text passed as a string stays that string,
 * objects become JSON, arrays array literals, Dates ISO instants, bytes `\x` hex); results come
 * back with int8/numeric as strings, timestamps as Dates, json/jsonb parsed, bool, bytea as
 * Buffers, and arrays of those as arrays. postgres.js's own serializers would JSON-encode a JSON
 * string a second time and read `'true'` as false, so its serializers pass our text through.
 */
import { Buffer } from 'node:buffer';

/** A parameter as pg's `prepareValue` writes it: text, or null. */
export function toPgText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) return `\\x${bytesOf(value).toString('hex')}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function arrayLiteral(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (Array.isArray(v)) out += arrayLiteral(v);
    else if (ArrayBuffer.isView(v)) out += `"\\\\x${bytesOf(v).toString('hex')}"`;
    else out += `"${(toPgText(v) as string).replace(/[\\"]/g, '\\$&')}"`;
  }
  return `${out}}`;
}

type Parse = (text: string) => unknown;

/**
 * An array's text form (`{a,"b c",NULL,{1,2}}`, optionally after a `[1:2]=` bounds prefix) with
 * each element read by `element`. Arrays of box (`;`-separated) are not read here.
 */
export function parsePgArray(text: string, element: Parse): unknown {
  let i = text.indexOf('{');
  if (i < 0) return text;
  const read = (): unknown[] => {
    const out: unknown[] = [];
    i++; // past '{'
    while (i < text.length) {
      const c = text[i];
      if (c === '}') {
        i++;
        return out;
      }
      if (c === ',') {
        i++;
        continue;
      }
      if (c === '{') {
        out.push(read());
        continue;
      }
      if (c === '"') {
        let value = '';
        for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === '\\' ? text[++i] : text[i];
        i++; // past the closing quote
        out.push(element(value));
        continue;
      }
      let end = i;
      while (end < text.length && text[end] !== ',' && text[end] !== '}') end++;
      const raw = text.slice(i, end);
      out.push(raw === 'NULL' ? null : element(raw));
      i = end;
    }
    return out;
  };
  return read();
}

const same: Parse = (x) => x;
const passText = (x: unknown) => x as string;
const toDate: Parse = (x) => new Date(x);
const toBool: Parse = (x) => x === 't';
const toBytes: Parse = (x) => Buffer.from(x.slice(2), 'hex');
const toNumber: Parse = (x) => Number(x);

/** Array type oids by what their elements are read as. */
const ARRAYS: Array<[name: string, oids: number[], element: Parse]> = [
  // text, varchar, bpchar, name, char, uuid, int8, numeric, time, timetz, inet, cidr, macaddr, interval
  ['text_array', [1009, 1015, 1014, 1003, 1002, 2951, 1016, 1231, 1183, 1270, 1041, 651, 1040, 1187], same],
  ['number_array', [1005, 1007, 1028, 1021, 1022], toNumber],
  ['bool_array', [1000], toBool],
  ['json_array', [199, 3807], JSON.parse],
  ['date_array', [1115, 1182, 1185], toDate],
  ['bytea_array', [1001], toBytes],
];

interface PostgresType {
  to: number;
  from: number[];
  serialize: (x: unknown) => string;
  parse: Parse;
}

/**
 * postgres.js `types`: the scalar parsers it has anyway (restated, since a custom type replaces
 * the serializer and parser of each oid it names) with serializers that pass pg's text through,
 * and the array parsers `fetch_types` would have looked up in pg_type (one query per connection).
 */
export const PG_TYPES: Record<string, PostgresType> = {
  bool: { to: 16, from: [16], serialize: passText, parse: toBool },
  json: { to: 3802, from: [114, 3802], serialize: passText, parse: JSON.parse },
  date: { to: 1184, from: [1082, 1114, 1184], serialize: passText, parse: toDate },
  bytea: { to: 17, from: [17], serialize: passText, parse: toBytes },
  ...Object.fromEntries(
    ARRAYS.map(([name, oids, element]) => [
      name,
      { to: oids[0]!, from: oids, serialize: passText, parse: (x: string) => parsePgArray(x, element) },
    ]),
  ),
};
