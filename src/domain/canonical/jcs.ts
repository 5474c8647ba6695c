import { SpendtrailError } from '../errors.ts';
import { hasLoneSurrogate } from './unicode.ts';

// Deep enough for any real document; a cyclic structure hits it instead of overflowing the stack.
const MAX_DEPTH = 512;

const invalid = (message: string): SpendtrailError => new SpendtrailError('VALIDATION_FAILED', message);

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Accepts exactly the JSON data model: null, booleans, finite numbers, well-formed strings,
 * arrays and plain objects. Object properties whose value is `undefined` are omitted, as
 * JSON.stringify does; everything else outside the model is rejected rather than coerced,
 * because a silently coerced value would hash to something the caller never meant.
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0);
}

function serialize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value);
    case 'number':
      if (!Number.isFinite(value)) throw invalid(`${value} is not a JSON number`);
      // ECMAScript Number::toString is exactly the RFC 8785 §3.2.2.3 serialization (-0 → "0").
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      break;
    case 'bigint':
      throw invalid('bigint is not a JSON value; convert it to a string or a safe number first');
    default:
      throw invalid(`${typeof value} is not a JSON value`);
  }

  if (depth >= MAX_DEPTH) throw invalid(`nesting deeper than ${MAX_DEPTH} levels (or a cycle)`);

  if (Array.isArray(value)) {
    const items = value as readonly unknown[];
    const n = items.length;
    if (n === 0) return '[]';
    let out = '[' + serialize(items[0], depth + 1);
    for (let i = 1; i < n; i++) out += ',' + serialize(items[i], depth + 1);
    return out + ']';
  }

  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // Dates, Maps, class instances… have no single obvious JSON form; make the caller choose one.
    throw invalid('only plain objects and arrays can be canonicalized');
  }

  const record = value as Readonly<Record<string, unknown>>;
  // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 prescribes.
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    if (first) first = false;
    else out += ',';
    out += serializeString(key) + ':' + serialize(v, depth + 1);
  }
  return out + '}';
}

function serializeString(s: string): string {
  if (hasLoneSurrogate(s)) {
    throw invalid('string contains a lone UTF-16 surrogate; RFC 8785 requires well-formed Unicode');
  }
  // JSON.stringify's escaping (\" \\ \b \f \n \r \t, \u00xx for other controls, everything
  // else literal) is the one RFC 8785 §3.2.2.2 mandates.
  return JSON.stringify(s);
}
