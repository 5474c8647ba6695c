import canonicalizeRef from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from './jcs.ts';

const validationFailed = expect.objectContaining({ code: 'VALIDATION_FAILED' });

const fromIeeeHex = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('canonicalize (RFC 8785)', () => {
  it('produces the RFC 8785 §3.2.2 sample output', () => {
    const input = String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalize(JSON.parse(input))).toBe(expected);
  });

  it('sorts keys by UTF-16 code units, as in the RFC 8785 §3.2.3 sorting example', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    expect(canonicalize(input)).toBe(expected);
  });

  it('orders a supplementary-plane key before U+FB33 even though its code point is larger', () => {
    // UTF-16 order (0xD83D < 0xFB33), not code point order (0x1F600 > 0xFB33).
    expect(canonicalize({ '\ufb33': 1, '\u{1f600}': 2 })).toBe('{"\u{1f600}":2,"\ufb33":1}');
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serializes the IEEE 754 double %s as %s (RFC 8785 Appendix B)', (hex, expected) => {
    expect(canonicalize(fromIeeeHex(hex))).toBe(expected);
  });

  it('serializes negative zero as 0', () => {
    expect(canonicalize({ a: -0 })).toBe('{"a":0}');
  });

  it('omits object properties whose value is undefined', () => {
    expect(canonicalize({ b: undefined, a: 1 })).toBe('{"a":1}');
    expect(canonicalize({ only: undefined })).toBe('{}');
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.z = [];
    o.a = {};
    expect(canonicalize(o)).toBe('{"a":{},"z":[]}');
  });

  it('keeps well-formed surrogate pairs literal', () => {
    expect(canonicalize('\ud83d\ude00')).toBe('"\ud83d\ude00"');
  });

  it.each([
    ['a lone high surrogate at the end', 'abc\ud800'],
    ['a lone high surrogate before a non-surrogate', '\ud800x'],
    ['a lone low surrogate', 'x\udc00'],
    ['a reversed pair', '\ude00\ud83d'],
  ])('rejects a string with %s, naming the well-formedness requirement', (_label, s) => {
    expect(() => canonicalize(s)).toThrow(validationFailed);
    expect(() => canonicalize(s)).toThrow(/well-formed Unicode/);
  });

  it('rejects a lone surrogate in an object key', () => {
    expect(() => canonicalize({ ['k\udfff']: 1 })).toThrow(validationFailed);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a bigint', 10n],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['undefined at the top level', undefined],
    ['undefined inside an array', [1, undefined]],
    ['a hole in a sparse array', [1, , 3]],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a class instance', new (class Point { x = 1 })()],
    ['a Buffer', Buffer.from('x')],
    ['a nested bigint', { a: [{ b: 1n }] }],
  ])('rejects %s', (_label, value) => {
    expect(() => canonicalize(value)).toThrow(validationFailed);
  });

  it('rejects a cyclic structure instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalize(cyclic)).toThrow(validationFailed);
  });

  // The reference maps -0 to "0" through JSON.stringify exactly as we do, so fc.jsonValue()'s
  // -0 needs no filtering; the two implementations must agree on every JSON value.
  it('agrees with the canonicalize package on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalize(value)).toBe(canonicalizeRef(value));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the canonicalize package on JSON values with any Unicode code point', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        expect(canonicalize(value)).toBe(canonicalizeRef(value));
      }),
      { numRuns: 500 },
    );
  });

  it('rejects exactly the strings the canonicalize package rejects, over arbitrary UTF-16', () => {
    const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const surrogateHeavy = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00', 'a');
    const text = fc.string({ unit: fc.oneof(codeUnit, surrogateHeavy) });
    fc.assert(
      fc.property(text, (s) => {
        let refThrew = false;
        let expected: string | undefined;
        try {
          expected = canonicalizeRef(s);
        } catch {
          refThrew = true;
        }
        if (refThrew) expect(() => canonicalize(s)).toThrow(validationFailed);
        else expect(canonicalize(s)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('is idempotent through a JSON round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        const once = canonicalize(value);
        expect(canonicalize(JSON.parse(once))).toBe(once);
      }),
    );
  });
});
