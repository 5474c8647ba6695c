import { getTransaction } from '../../../app/ledger-queries.ts';
import { hasRole } from '../../../app/principal.ts';
import type { RailPayloadRow } from '../../../app/ports/store.ts';
import { railRecordOfTransaction } from '../../../app/transaction-evidence.ts';
import { contentHash } from '../../../domain/hash.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import type { WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';
import { violationBadges } from './ledger.ts';

/** Bytes shown on the page at most; the rest is said to exist (the CLI and API give all of it). */
const SHOW_BYTES = 64 * 1024;

/** A rail payload as text when it is UTF-8 (escaped by the template), else as a hex dump. */
export function payloadText(body: Buffer): { text: string; kind: 'utf-8' | 'hex'; truncated: boolean } {
  const shown = body.subarray(0, SHOW_BYTES);
  const truncated = body.length > SHOW_BYTES;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(shown);
    // Control characters other than whitespace would be invisible: show those payloads as hex.
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) {
      let pretty = text;
      try {
        if (!truncated) pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // not JSON: shown as received
      }
      return { text: pretty, kind: 'utf-8', truncated };
    }
  } catch {
    // not UTF-8: fall through to hex
  }
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 16) lines.push(`${i.toString(16).padStart(8, '0')}  ${shown.subarray(i, i + 16).toString('hex').replace(/(..)/g, '$1 ')}`);
  return { text: lines.join('\n'), kind: 'hex', truncated };
}

function railSection(p: RailPayloadRow | undefined | null): Html {
  if (p === null) return html`<p class="muted">Raw rail records are shown to finance and auditors.</p>`;
  if (p === undefined) return html`<p>This transaction was not made from a stored rail record (it was recorded through the API or an import).</p>`;
  const shown = payloadText(p.body);
  const actual = contentHash(p.body);
  return html`<dl class="facts">
<dt>Rail</dt><dd>${p.rail}</dd><dt>Record id</dt><dd><code>${p.source_id}</code></dd>
<dt>Received</dt><dd>${p.received_at.toISOString()}</dd><dt>Outcome</dt><dd>${p.outcome}</dd>
<dt>Content type</dt><dd>${p.content_type}</dd><dt>Size</dt><dd>${p.body.length} bytes</dd>
<dt>SHA-256 (logged)</dt><dd><code>${p.payload_sha256}</code></dd>
<dt>SHA-256 (of these bytes)</dt><dd><code>${actual}</code> ${actual === p.payload_sha256 ? html`<span class="badge ok">matches the log</span>` : html`<span class="badge bad">DOES NOT match the log</span>`}</dd>
<dt>Log entry</dt><dd>#${p.seq}</dd>
</dl>
<p class="muted">Shown as ${shown.kind === 'hex' ? 'a hex dump (not UTF-8 text)' : 'text'}${shown.kind === 'utf-8' && !shown.truncated ? ' (JSON re-indented for reading; the hash is of the bytes as received)' : ''}${shown.truncated ? `; the first ${SHOW_BYTES} bytes only` : ''}.</p>
<pre>${shown.text}</pre>`;
}

const field = (v: string | number | boolean | null | readonly string[]): Html | string =>
  v === null ? html`<span class="muted">none</span>` : typeof v === 'object' ? v.join(', ') : String(v);

export function transactionPages(r: WebRoutes): void {
  r.page('/ledger/:tx_id', PEOPLE, async (req) => {
    const by = req.session.principal;
    const d = await getTransaction(r.deps, by, req.params.tx_id ?? '');
    const t = d.transaction;
    const rail = hasRole(by, 'auditor', 'finance') ? await railRecordOfTransaction(r.deps, by, t) : null;
    const p = d.inclusion_proof;
    const body = html`
<p><a href="/ledger">← Ledger</a> · <a href="${href('/ledger', { agent_id: t.agent_id })}">more from ${t.agent_id}</a></p>
<h2>Transaction</h2>
<dl class="facts">${Object.entries(t).map(([k, v]) => html`<dt>${k}</dt><dd>${k === 'violations' ? violationBadges(t.violations) : field(v as Parameters<typeof field>[0])}</dd>`)}</dl>

<h2>Violations</h2>
${t.violations.length === 0 ? html`<p>None: the transaction was within the policy in force.</p>` : html`<ul>${t.violations.map((v) => html`<li>${v.replace(/_/g, ' ')}</li>`)}</ul>`}

<h2>Approver</h2>
<p>${t.approver === null ? 'No approver recorded.' : html`${t.approver}${t.approval_ref === null ? '' : html` (reference <code>${t.approval_ref}</code>)`}`}</p>

<h2>Policy in force</h2>
${d.policy === null
      ? html`<p>No policy was in force for this agent when it was recorded.</p>`
      : html`<p>Snapshot <code>${t.policy_snapshot_id}</code>, version ${d.policy.version} for ${d.policy.agent_id}:</p><pre>${JSON.stringify(d.policy, null, 2)}</pre>`}

<h2>Raw rail payload</h2>
${railSection(rail)}

<h2>Inclusion proof</h2>
${p === null
      ? html`<p>No signed checkpoint covers this transaction yet (it is entry #${t.seq}); one is signed on the next append or with "spendtrail checkpoint".</p>`
      : html`<dl class="facts">
<dt>Leaf index</dt><dd>${p.leaf_index}</dd><dt>Tree size</dt><dd>${p.tree_size}</dd>
<dt>Leaf hash</dt><dd><code>${p.leaf_hash}</code></dd><dt>Root</dt><dd><code>${p.root}</code></dd>
<dt>Audit path (${p.audit_path.length} hashes)</dt><dd><ol>${p.audit_path.map((h) => html`<li><code>${h}</code></li>`)}</ol></dd>
</dl>
<h3>Signed checkpoint</h3>
<pre>${p.checkpoint}</pre>
<p class="muted">How to check it without trusting this server: the leaf hash is SHA-256 of 0x00 followed by the transaction's
canonical bytes (RFC 6962 / RFC 9162); combine it with the audit path (each step SHA-256 of 0x01, left, right) to get the root;
the root and tree size must be the ones in the checkpoint above, whose signature must verify with your organisation's pinned
verifier key (C2SP signed note). "spendtrail tx ${t.tx_id} --json" prints the same proof, and "spendtrail verify" rechecks the whole log.</p>`}`;
    return { title: `Transaction ${t.tx_id}`, body, active: '/ledger' };
  });
}
