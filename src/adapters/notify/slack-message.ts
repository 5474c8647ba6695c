import type { ChangeValue } from '../../app/ports/change-log.ts';
import type { ChangeNotice } from '../../app/ports/notifier.ts';

/**
 * Slack's documented Block Kit limits for a message (incoming webhooks): 50 blocks; header
 * text 150 characters (plain_text); section text 3000 and at most 10 `fields` of 2000 each;
 * context at most 10 elements; any text object at least 1 character. Slack rejects the whole
 * message with 400 `invalid_payload` if one is exceeded, so every user-supplied piece is cut
 * to fit. Lengths are measured in UTF-16 code units (JS `length`), which is never less than
 * the number of characters, so the bounds hold however Slack counts.
 */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  contextElements: 10,
  contextText: 3000,
} as const;

/** Our own, tighter budgets, chosen so a pathological notice still gives a readable message. */
const BUDGET = {
  /** Changed-field lines shown; the rest are summarised by a count (a policy has ~12 fields). */
  fieldLines: 30,
  fieldName: 80,
  /** Per rendered value (old or new), after escaping. */
  value: 300,
  /** Sections the changed-field lines may span; a backstop for the 50-block limit. */
  changeSections: 10,
  summaryPart: 400,
  fallbackText: 1000,
  context: 500,
} as const;

const ELLIPSIS = '…';

/**
 * Slack's documented escaping for mrkdwn: `&`, `<` and `>` are control characters (`<!channel>`,
 * `<@U123>`, `<url|label>`), so user text must carry them as entities. This is what stops a
 * justification from pinging a channel or disguising a link.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Cuts already-escaped text to at most `max` code units, ending in "…". Never splits an
 * entity (`&amp;` half-cut would render as garbage or re-open a `<`) or a surrogate pair
 * (a lone surrogate is not valid UTF-16 and may be rejected).
 */
export function clipEscaped(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - ELLIPSIS.length));
  const amp = cut.lastIndexOf('&');
  // Entities are at most 5 long (`&amp;`); an `&` near the end without its `;` was cut mid-way.
  if (amp !== -1 && amp >= cut.length - 5 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/**
 * Escapes user text for mrkdwn and cuts it to `max`. Escaping only lengthens text, so only the
 * first `max + 1` raw code units can survive; slicing first keeps a megabyte justification
 * from being escaped in full (the cut that follows still sees the text is too long).
 */
const esc = (raw: string, max: number): string => clipEscaped(escapeMrkdwn(raw.slice(0, max + 1)), max);

/** Plain text (the header) is not parsed for mentions, so it is cut but not escaped. */
function clipPlain(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - ELLIPSIS.length);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

type Kind = 'money' | 'list' | 'boolean' | 'instant' | 'text';

const DECIMAL = /^-?\d+(\.\d+)?$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function kindOf(v: ChangeValue): Kind | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v !== 'string') return 'list';
  if (DECIMAL.test(v)) return 'money';
  if (INSTANT.test(v)) return 'instant';
  return 'text';
}

/**
 * What null means depends on the field: a limit of null is "no limit", an allow-list of null
 * is "any", and anything else (an end date, a value that did not exist before) is "none". The
 * other side of the change tells us the kind; the field name is the fallback when both are null.
 */
function nullWord(field: string, other: ChangeValue): string {
  const kind = kindOf(other);
  if (kind === 'money' || (kind === null && /(limit|threshold)$/.test(field))) return 'no limit';
  if (kind === 'list' || (kind === null && field.startsWith('allowed_'))) return 'any';
  return 'none';
}

/** Renders a value as escaped mrkdwn no longer than `BUDGET.value`. */
function renderValue(v: ChangeValue, other: ChangeValue, field: string, currency: string): string {
  if (v === null) return `_${nullWord(field, other)}_`;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') {
    // An empty text object is invalid and an empty value is invisible; say so instead.
    if (v === '') return '_empty_';
    return kindOf(v) === 'money' ? esc(`${v} ${currency}`, BUDGET.value) : esc(v, BUDGET.value);
  }
  const items = v;
  if (items.length === 0) return '_none_';
  // Show whole items while they fit and say how many were left out, rather than cutting
  // mid-name; the reserve keeps room for the "… +N more" note.
  const room = BUDGET.value - 16;
  let out = '';
  let shown = 0;
  for (const item of items) {
    const piece = (shown === 0 ? '' : ', ') + esc(item, room + 1);
    if (out.length + piece.length > room) break;
    out += piece;
    shown++;
  }
  if (shown === 0) {
    // A single item longer than the budget: show its start.
    out = esc(items[0] ?? '', room);
    shown = 1;
  }
  return shown === items.length ? out : `${out} … +${items.length - shown} more`;
}

function fieldLine(f: ChangeNotice['fields'][number], currency: string): string {
  const name = esc(f.field, BUDGET.fieldName);
  const before = renderValue(f.old_value, f.new_value, f.field, currency);
  const after = renderValue(f.new_value, f.old_value, f.field, currency);
  return `• *${name}*: ${before} → ${after}`;
}

/** Packs lines into section texts of at most 3000 code units each, keeping lines whole. */
function packLines(lines: readonly string[], maxSections: number): { texts: string[]; dropped: number } {
  const texts: string[] = [];
  let current = '';
  let used = 0;
  for (const line of lines) {
    const candidate = current === '' ? line : `${current}\n${line}`;
    if (candidate.length <= SLACK_LIMITS.sectionText) {
      current = candidate;
      used++;
      continue;
    }
    if (texts.length + 1 >= maxSections) break;
    texts.push(current);
    current = line;
    used++;
  }
  if (current !== '') texts.push(current);
  return { texts, dropped: lines.length - used };
}

/** Flagged by the app, or simply absent: either way the reader should see a warning. */
const lacksTicket = (notice: ChangeNotice): boolean => notice.ticket_missing || notice.approval_ticket === null;

function title(notice: ChangeNotice): string {
  if (lacksTicket(notice)) return 'Policy change without a ticket';
  return notice.status === 'pending' ? 'Policy change pending approval' : 'Policy change applied';
}

function agentLabel(notice: ChangeNotice): string {
  const id = esc(notice.agent_id, BUDGET.summaryPart);
  return notice.agent_name === null ? id : `${esc(notice.agent_name, BUDGET.summaryPart)} (${id})`;
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true }) as const;

/**
 * The Slack incoming-webhook body for a policy change: `text` is the notification fallback,
 * `blocks` the Block Kit layout. Every user-supplied string is escaped (`&`, `<`, `>`) and every
 * text fits Slack's limits, however large the notice. Pure: same notice, same message.
 *
 * mrkdwn objects set `verbatim: true` so Slack does not auto-link or auto-parse mentions in
 * plain words either; only our own markup (`*bold*`, `>` quotes) is interpreted.
 */
export function slackMessage(notice: ChangeNotice): { text: string; blocks: unknown[] } {
  const heading = title(notice);
  // A ticket reference is shown when there is one; the warning shows whenever the change is
  // flagged as lacking one, so a contradictory notice still surfaces the flag.
  const ticket = [
    notice.approval_ticket === null ? '' : esc(notice.approval_ticket, BUDGET.summaryPart),
    lacksTicket(notice) ? ':warning: *No ticket*' : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
  const status = notice.status === 'pending' ? 'Pending approval' : 'Applied';
  const summaryFields = [
    `*Agent*\n${clipEscaped(agentLabel(notice), BUDGET.summaryPart)}`,
    `*Changed by*\n${esc(notice.changed_by, BUDGET.summaryPart)}`,
    `*Ticket*\n${ticket}`,
    `*Status*\n${status}`,
  ].map((t) => mrkdwn(clipEscaped(t, SLACK_LIMITS.sectionFieldText)));

  const n = notice.fields.length;
  const shown = notice.fields.slice(0, BUDGET.fieldLines).map((f) => fieldLine(f, notice.currency));
  const heading2 = `*Changed fields (${n})*`;
  const packed = packLines([heading2, ...shown], BUDGET.changeSections);
  // Lines not shown (over the line cap, or over the section backstop) are counted, never lost silently.
  const hidden = n - shown.length + packed.dropped;
  const changeTexts = n === 0 ? [`${heading2}\n_none_`] : packed.texts;
  if (hidden > 0) {
    const note = `_… and ${hidden} more changed field${hidden === 1 ? '' : 's'}; see change ${esc(notice.change_id, 200)}_`;
    const last = changeTexts.length - 1;
    const joined = `${changeTexts[last] ?? ''}\n${note}`;
    if (joined.length <= SLACK_LIMITS.sectionText) changeTexts[last] = joined;
    else changeTexts.push(note);
  }

  const justification =
    notice.justification.trim() === ''
      ? '_none given_'
      : esc(notice.justification, SLACK_LIMITS.sectionText)
          .split(/\r?\n/)
          .map((l) => `>${l}`)
          .join('\n');

  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clipPlain(heading, SLACK_LIMITS.headerText), emoji: true } },
    { type: 'section', fields: summaryFields },
    { type: 'divider' },
    ...changeTexts.map((t) => ({ type: 'section', text: mrkdwn(clipEscaped(t, SLACK_LIMITS.sectionText)) })),
    { type: 'section', text: mrkdwn(clipEscaped(`*Justification*\n${justification}`, SLACK_LIMITS.sectionText)) },
    {
      type: 'context',
      elements: [
        mrkdwn(
          clipEscaped(
            `Change ${esc(notice.change_id, BUDGET.context)} · ${esc(notice.at, BUDGET.context)} · org ${esc(notice.org_id, BUDGET.context)}`,
            BUDGET.context,
          ),
        ),
      ],
    },
  ];

  const text = clipEscaped(
    `${heading}: ${agentLabel(notice)}, ${n} field${n === 1 ? '' : 's'} changed by ${esc(notice.changed_by, BUDGET.summaryPart)}`,
    BUDGET.fallbackText,
  );
  return { text, blocks };
}
