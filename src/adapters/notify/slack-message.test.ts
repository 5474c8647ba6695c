import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeNotice } from '../../app/ports/notifier.ts';
import { clipEscaped, slackMessage } from './slack-message.ts';

/** Slack's documented limits, written out here so a wrong constant in the code cannot hide itself. */
const LIMIT = { blocks: 50, headerText: 150, sectionText: 3000, sectionFields: 10, sectionFieldText: 2000, contextElements: 10, contextText: 3000 };

const base: ChangeNotice = {
  org_id: 'acme',
  change_id: 'chg_01',
  agent_id: 'buyer-bot',
  agent_name: 'Procurement bot',
  changed_by: 'alice@acme.test',
  justification: 'Quarter-end vendor payments',
  approval_ticket: 'FIN-123',
  ticket_missing: false,
  status: 'applied',
  currency: 'USD',
  at: '2025-03-31T12:00:00.000Z',
  fields: [{ field: 'daily_limit', old_value: '1000.00', new_value: '2500.00' }],
};

const notice = (over: Partial<ChangeNotice>): ChangeNotice => ({ ...base, ...over });

interface TextObj { type: string; text: string; verbatim?: boolean }
interface Block { type: string; text?: TextObj; fields?: TextObj[]; elements?: TextObj[] }

const blocksOf = (n: ChangeNotice): Block[] => slackMessage(n).blocks as Block[];

/** Every text object in the message, with the limit Slack applies to it. */
function texts(msg: { text: string; blocks: unknown[] }): { text: string; type: string; max: number }[] {
  const out: { text: string; type: string; max: number }[] = [{ text: msg.text, type: 'mrkdwn', max: 40_000 }];
  for (const b of msg.blocks as Block[]) {
    if (b.type === 'header') out.push({ ...b.text!, max: LIMIT.headerText });
    if (b.text !== undefined && b.type === 'section') out.push({ ...b.text, max: LIMIT.sectionText });
    for (const f of b.fields ?? []) out.push({ ...f, max: LIMIT.sectionFieldText });
    for (const e of b.elements ?? []) out.push({ ...e, max: LIMIT.contextText });
  }
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Slack's documented Block Kit rules that make it answer 400 invalid_payload when broken. */
function violations(msg: { text: string; blocks: unknown[] }): string[] {
  const v: string[] = [];
  const blocks = msg.blocks as Block[];
  if (blocks.length > LIMIT.blocks) v.push(`${blocks.length} blocks`);
  for (const b of blocks) {
    if (!['header', 'section', 'divider', 'context'].includes(b.type)) v.push(`unknown block ${b.type}`);
    if (b.type === 'header' && b.text?.type !== 'plain_text') v.push('header not plain_text');
    if (b.type === 'section' && b.text === undefined && b.fields === undefined) v.push('empty section');
    if ((b.fields?.length ?? 0) > LIMIT.sectionFields) v.push(`${b.fields!.length} fields`);
    if ((b.elements?.length ?? 0) > LIMIT.contextElements) v.push(`${b.elements!.length} context elements`);
  }
  for (const t of texts(msg)) {
    if (t.text.length < 1 || t.text.length > t.max) v.push(`text of ${t.text.length} (max ${t.max})`);
    if (LONE_SURROGATE.test(t.text)) v.push('split surrogate pair');
  }
  return v;
}

const mrkdwnTexts = (n: ChangeNotice): string[] => texts(slackMessage(n)).filter((t) => t.type === 'mrkdwn').map((t) => t.text);

describe('Slack length limits', () => {
  it('holds for a huge notice: 200 fields, giant lists and values, a novel of a justification', () => {
    const giantList = Array.from({ length: 10_000 }, (_, k) => `merchant & co ${k}`);
    const huge = notice({
      agent_name: '🤖'.repeat(5000),
      agent_id: 'a'.repeat(5000),
      changed_by: '<&>'.repeat(3000),
      approval_ticket: 'T'.repeat(5000),
      justification: `${'&<>'.repeat(20_000)}\n`.repeat(50),
      change_id: 'c'.repeat(5000),
      fields: Array.from({ length: 200 }, (_, i) => ({
        field: `field_${i}_${'x'.repeat(500)}`,
        old_value: i % 2 === 0 ? giantList : ['x'.repeat(100_000)],
        new_value: '9'.repeat(5000),
      })),
    });
    const msg = slackMessage(huge);
    expect(violations(msg)).toEqual([]);
    // The cut-off fields are counted, not silently lost.
    expect(mrkdwnTexts(huge).join('\n')).toMatch(/and 170 more changed fields/);
  });

  it('holds for any notice (property)', () => {
    const str = fc.string({ unit: 'binary', maxLength: 4000 });
    const value = fc.oneof(fc.constant(null), fc.boolean(), str, fc.array(str, { maxLength: 50 }));
    fc.assert(
      fc.property(
        fc.record({
          agent_name: fc.option(str),
          agent_id: str,
          changed_by: str,
          justification: str,
          approval_ticket: fc.option(str),
          ticket_missing: fc.boolean(),
          status: fc.constantFrom('pending' as const, 'applied' as const),
          change_id: str,
          fields: fc.array(fc.record({ field: str, old_value: value, new_value: value }), { maxLength: 250 }),
        }),
        (over) => {
          const n = notice(over);
          expect(violations(slackMessage(n))).toEqual([]);
          // Every mrkdwn text is free of raw `<`, and every `&` starts one of the three entities.
          for (const t of mrkdwnTexts(n)) {
            expect(t).not.toContain('<');
            expect(t.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('cuts escaped text without splitting an entity or a surrogate pair', () => {
    expect(clipEscaped('abc&amp;def', 6)).toBe('abc…');
    expect(clipEscaped('ab😀cd', 4)).toBe('ab…');
    expect(clipEscaped('short', 10)).toBe('short');
    expect(clipEscaped('x'.repeat(20), 10)).toHaveLength(10);
  });
});

describe('escaping', () => {
  it('neutralises mentions and links in the justification, names and values', () => {
    const n = notice({
      justification: 'Needed now <!channel> & <@U123> see <https://evil.test|invoice>',
      agent_name: '<!here>',
      changed_by: 'mallory <!everyone>',
      fields: [{ field: 'allowed_merchants', old_value: null, new_value: ['<!channel>', 'A&B'] }],
    });
    const all = mrkdwnTexts(n).join('\n');
    expect(all).not.toMatch(/<!|<@|<https/);
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;@U123&gt;');
    expect(all).toContain('&lt;!here&gt;');
    expect(all).toContain('mallory &lt;!everyone&gt;');
    expect(all).toContain('&lt;!channel&gt;, A&amp;B');
    // The fallback text is what notifications show, and it is parsed too.
    expect(slackMessage(n).text).toContain('&lt;!here&gt;');
  });

  it('quotes the justification line by line and turns off Slack auto-parsing', () => {
    const blocks = blocksOf(notice({ justification: 'line one\nline > two' }));
    const just = blocks.find((b) => b.text?.text.startsWith('*Justification*'))!;
    expect(just.text!.text).toBe('*Justification*\n>line one\n>line &gt; two');
    const objs = blocks.flatMap((b) => [b.text, ...(b.fields ?? []), ...(b.elements ?? [])]).filter((t) => t?.type === 'mrkdwn');
    expect(objs.length).toBeGreaterThan(3);
    for (const t of objs) expect(t!.verbatim).toBe(true);
  });
});

describe('value rendering', () => {
  const line = (f: ChangeNotice['fields'][number], currency = 'USD'): string => {
    const all = mrkdwnTexts(notice({ fields: [f], currency })).join('\n');
    const found = all.split('\n').find((l) => l.startsWith(`• *${f.field}*`));
    if (found === undefined) throw new Error(`no line for ${f.field} in:\n${all}`);
    return found;
  };

  it('writes money with its currency and null limits as "no limit"', () => {
    expect(line({ field: 'daily_limit', old_value: '1000.00', new_value: '2500.00' })).toBe('• *daily_limit*: 1000.00 USD → 2500.00 USD');
    expect(line({ field: 'per_transaction_limit', old_value: '100', new_value: null }, 'JPY')).toBe('• *per_transaction_limit*: 100 JPY → _no limit_');
    expect(line({ field: 'monthly_limit', old_value: null, new_value: null })).toBe('• *monthly_limit*: _no limit_ → _no limit_');
  });

  it('joins lists with ", " and writes a null allow-list as "any" and an empty one as "none"', () => {
    expect(line({ field: 'allowed_merchants', old_value: null, new_value: ['acme', 'globex'] })).toBe('• *allowed_merchants*: _any_ → acme, globex');
    expect(line({ field: 'blocked_categories', old_value: ['5812'], new_value: [] })).toBe('• *blocked_categories*: 5812 → _none_');
  });

  it('summarises a long list with the count left out', () => {
    const items = Array.from({ length: 500 }, (_, i) => `m${i}`);
    const l = line({ field: 'allowed_merchants', old_value: [], new_value: items });
    const shown = /→ (.*) … \+(\d+) more$/.exec(l);
    expect(shown).not.toBeNull();
    expect(shown![1]!.split(', ').length + Number(shown![2])).toBe(500);
  });

  it('writes booleans as yes/no and a missing end date as "none"', () => {
    expect(line({ field: 'require_business_purpose', old_value: true, new_value: false })).toBe('• *require_business_purpose*: yes → no');
    expect(line({ field: 'valid_until', old_value: null, new_value: '2025-12-31T00:00:00.000Z' })).toBe('• *valid_until*: _none_ → 2025-12-31T00:00:00.000Z');
  });
});

describe('header and summary', () => {
  const header = (n: ChangeNotice): string => blocksOf(n)[0]!.text!.text;
  const summary = (n: ChangeNotice): string => blocksOf(n)[1]!.fields!.map((f) => f.text).join('\n');

  it('leads with the missing ticket, whatever the status', () => {
    for (const status of ['pending', 'applied'] as const) {
      const n = notice({ approval_ticket: null, ticket_missing: true, status });
      expect(header(n)).toBe('Policy change without a ticket');
      expect(summary(n)).toContain(':warning: *No ticket*');
    }
  });

  it('says pending or applied when a ticket is present', () => {
    expect(header(notice({ status: 'pending' }))).toBe('Policy change pending approval');
    expect(header(notice({ status: 'applied' }))).toBe('Policy change applied');
    expect(summary(notice({}))).toContain('*Ticket*\nFIN-123');
    expect(summary(notice({}))).not.toContain('No ticket');
  });

  it('names the agent (name and id), who changed it and the status; the context has change id and time', () => {
    const n = notice({ status: 'pending' });
    expect(summary(n)).toBe('*Agent*\nProcurement bot (buyer-bot)\n*Changed by*\nalice@acme.test\n*Ticket*\nFIN-123\n*Status*\nPending approval');
    expect(summary(notice({ agent_name: null }))).toContain('*Agent*\nbuyer-bot\n');
    const context = blocksOf(n).find((b) => b.type === 'context')!;
    expect(context.elements![0]!.text).toBe('Change chg_01 · 2025-03-31T12:00:00.000Z · org acme');
    expect(slackMessage(n).text).toBe('Policy change pending approval: Procurement bot (buyer-bot), 1 field changed by alice@acme.test');
  });

  it('is pure: equal notices give equal messages and the notice is not modified', () => {
    const frozen = Object.freeze(notice({ fields: Object.freeze([Object.freeze({ field: 'x', old_value: Object.freeze(['a']), new_value: null })]) }));
    expect(slackMessage(frozen)).toEqual(slackMessage(structuredClone(frozen)));
  });
});
