/**
 * The bad-input corpus (issue 10, item 6): inputs a careless or hostile client sends, each with
 * what the product must answer. Two kinds:
 *
 * - refused: a 4xx with a stable `error.code` (and the `field` at fault when one is), and the
 *   database exactly as it was;
 * - hostile but legitimate text (SQL, markup, formulas, bidi overrides, non-BMP characters):
 *   stored inertly and given back character for character.
 *
 * Values are grouped by what they stand for (an amount, a currency, a text field, a whole body),
 * so every ingest endpoint is fed the same list for its own fields.
 */

/** Bytes that are not UTF-8: a lone continuation byte, an overlong "/", a surrogate encoded in UTF-8, a truncated sequence. */
export const INVALID_UTF8: readonly (readonly [string, Buffer])[] = [
  ['a lone continuation byte', Buffer.from([0x80])],
  ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
  ['a UTF-16 surrogate encoded as UTF-8 (CESU)', Buffer.from([0xed, 0xa0, 0x80])],
  ['a truncated 3-byte sequence', Buffer.from([0xe2, 0x82])],
  ['0xFF', Buffer.from([0xff])],
];

/** A JSON object body whose `field` string holds raw bytes (not an escape) in the middle of its value. */
export function jsonWithRawBytes(obj: Record<string, unknown>, field: string, bytes: Buffer): Buffer {
  const marker = '\u0001MARK\u0001';
  const text = JSON.stringify({ ...obj, [field]: `AWS${marker}` });
  const [before = '', after = ''] = text.split(JSON.stringify(marker).slice(1, -1));
  return Buffer.concat([Buffer.from(before, 'utf8'), bytes, Buffer.from(after, 'utf8')]);
}

/** Amount values that are not a plain decimal string in the currency: each is INVALID_AMOUNT on the amount field. */
export const BAD_AMOUNTS: readonly (readonly [string, unknown])[] = [
  ['a JSON float', 21.5],
  ['a JSON integer', 21],
  ['a JSON number with an exponent', 1e21],
  ['exponent notation', '1e3'],
  ['upper-case exponent', '1E3'],
  ['a negative exponent', '125e-2'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['-Infinity', '-Infinity'],
  ['negative zero', '-0'],
  ['negative zero with decimals', '-0.00'],
  ['hexadecimal', '0x10'],
  ['a leading space', ' 1.00'],
  ['a trailing space', '1.00 '],
  ['a plus sign', '+1.00'],
  ['a thousands separator', '1,000.00'],
  ['an underscore separator', '1_000'],
  ['Arabic-Indic digits', '\u0661\u0662'],
  ['full-width digits', '\uff11\uff12'],
  ['the empty string', ''],
  ['a leading zero', '01.00'],
  ['no integer part', '.5'],
  ['a trailing point', '5.'],
  ['two points', '1.2.3'],
  ['a currency symbol', '$12.50'],
  ['a currency code', '12.50 USD'],
  ['more decimals than the currency has', '21.001'],
  ['a 40-digit amount', '1234567890123456789012345678901234567890'],
  ['24 integer digits (more cents than a 64-bit integer holds)', '999999999999999999999999.99'],
  ['one cent past a 64-bit count of cents', '92233720368547758.08'],
  ['a 40-digit fraction', `0.${'1'.repeat(40)}`],
  ['65 characters', '1'.repeat(65)],
  ['null', null],
  ['true', true],
  ['an array', ['1.00']],
  ['an object', { value: '1.00' }],
];

/** Currency values: the code and field expected. */
export const BAD_CURRENCIES: readonly (readonly [string, unknown, string])[] = [
  ['an unknown code', 'XYZ', 'UNKNOWN_CURRENCY'],
  ['a retired code', 'DEM', 'UNKNOWN_CURRENCY'],
  ['lower case', 'usd', 'VALIDATION_FAILED'],
  ['a space inside', 'US D', 'VALIDATION_FAILED'],
  ['full-width letters', '\uff35\uff33\uff24', 'VALIDATION_FAILED'],
  ['too long', 'USDUSD', 'VALIDATION_FAILED'],
  ['empty', '', 'VALIDATION_FAILED'],
  ['a number', 840, 'VALIDATION_FAILED'],
  ['SQL', "USD' OR '1'='1", 'VALIDATION_FAILED'],
];

/** Text a free-text field must refuse (VALIDATION_FAILED on that field). */
export const BAD_TEXT: readonly (readonly [string, unknown])[] = [
  ['a NUL', 'AWS\u0000'],
  ['a BEL', 'AWS\u0007'],
  ['an ANSI escape sequence', '\u001b[31mAWS\u001b[0m'],
  ['DEL', 'AWS\u007f'],
  ['a vertical tab', 'AWS\u000b'],
  ['a lone high surrogate', 'AWS\ud800'],
  ['a lone low surrogate', '\udc00AWS'],
  ['reversed surrogates', 'AWS\udc00\ud800'],
  ['a number', 42],
  ['an object', { name: 'AWS' }],
  ['an array', ['AWS']],
  ['longer than any text field (2,001 characters)', 'A'.repeat(2001)],
];

/**
 * Legitimate text a hostile client could send: each must be stored and come back exactly. None
 * has leading or trailing white space (the merchant is trimmed by design).
 */
export const HOSTILE_TEXT: readonly (readonly [string, string])[] = [
  ['SQL injection (quote)', "Robert'); DROP TABLE transactions;--"],
  ['SQL injection (or 1=1)', "' OR '1'='1"],
  ['SQL comment and semicolon', 'AWS; DELETE FROM log_entries; --'],
  ['dollar quoting', '$$; select pg_sleep(10); $$'],
  ['a backslash escape', 'AWS\\\'; \\x00'],
  ['CSV formula (HYPERLINK)', '=HYPERLINK("http://x","y")'],
  ['CSV formula (@SUM)', '@SUM(1+1)'],
  ['CSV formula (+)', '+1+cmd|\' /C calc\'!A0'],
  ['CSV formula (-)', '-2+3'],
  ['HTML', '<script>alert(1)</script>'],
  ['a template', '{{7*7}} ${7*7} #{7*7}'],
  ['printf', '%s%s%n%x'],
  ['a right-to-left override', 'AWS\u202egnp.exe'],
  ['line and paragraph separators inside', 'A\u2028W\u2029S'],
  ['a zero-width joiner and BOM inside', 'A\u200dW\ufeffS'],
  ['non-BMP characters (a valid surrogate pair)', 'Cloud \u{1F4B8}\u{1D54F}'],
  ['combining characters', 'Cafe\u0301'],
  ['a line break and a tab inside', 'AWS\nline two\tcol'],
  ['exactly 200 characters', `${'\u00e9'.repeat(199)}Z`],
];

/** Whole bodies that are not one JSON object: for routes whose body is parsed as JSON. */
export const BAD_BODIES: readonly (readonly [string, string | Buffer])[] = [
  ['truncated JSON', '{"amount": "1.00",'],
  ['trailing garbage', '{} x'],
  ['two documents', '{}{}'],
  ['single quotes', "{'amount': '1.00'}"],
  ['a trailing comma', '{"a": 1,}'],
  ['a comment', '{"a": 1 /* c */}'],
  ['NaN literal', '{"amount": NaN}'],
  ['a raw NUL inside a string', '{"merchant": "A\u0000B"}'],
  ['a raw control character inside a string', '{"merchant": "A\u0001B"}'],
  ['an invalid escape', '{"merchant": "\\x41"}'],
  ['a truncated \\u escape', '{"merchant": "\\u12"}'],
  ['a JSON array', '[]'],
  ['a JSON string', '"x"'],
  ['a JSON number', '42'],
  ['JSON null', 'null'],
  ['JSON true', 'true'],
  ['white space only', '   '],
  ['a __proto__ key', '{"__proto__": {"admin": true}}'],
  ['a constructor.prototype key', '{"constructor": {"prototype": {"admin": true}}}'],
  // Under the smallest body limit (64 KiB), so the nesting itself is what is refused.
  ['deep nesting (arrays, 30,000 levels)', `${'['.repeat(30_000)}${']'.repeat(30_000)}`],
  ['deep nesting (objects, 10,000 levels)', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`],
  ['deep nesting inside a field', `{"merchant": ${'['.repeat(30_000)}${']'.repeat(30_000)}}`],
  ['UTF-16 encoded JSON', Buffer.from('{"a":1}', 'utf16le')],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
];

/** Timestamps every ingest route must refuse with INVALID_TIMESTAMP (or VALIDATION_FAILED for a wrong type). */
export const BAD_TIMESTAMPS: readonly (readonly [string, unknown, string])[] = [
  ['no zone', '2026-03-12T10:00:00', 'INVALID_TIMESTAMP'],
  ['February 30th', '2026-02-30T10:00:00Z', 'INVALID_TIMESTAMP'],
  ['hour 24', '2026-03-12T24:00:00Z', 'INVALID_TIMESTAMP'],
  ['a six-digit year', '+275760-09-13T00:00:00Z', 'INVALID_TIMESTAMP'],
  ['year 0', '0000-01-01T00:00:00Z', 'INVALID_TIMESTAMP'],
  ['a date only', '2026-03-12', 'INVALID_TIMESTAMP'],
  ['words', 'yesterday', 'INVALID_TIMESTAMP'],
  ['Unix seconds', 1773309600, 'VALIDATION_FAILED'],
  ['41 characters', `2026-03-12T10:00:00.${'0'.repeat(20)}Z`, 'VALIDATION_FAILED'],
];
