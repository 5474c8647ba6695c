import { html } from './html.ts';
import type { Html } from './html.ts';

/**
 * Server-rendered SVG charts: pure functions of their data, no script, no inline style (the CSP
 * forbids both), presentation attributes only. Every chart has a title and description for
 * screen readers and a table with the exact figures beside it: the bars are for the eye, the
 * numbers come from the records as decimal strings.
 */

export interface Bar {
  readonly label: string;
  /** The value in minor units: sizes the bar (refunds can make it negative: drawn as zero). */
  readonly minor: bigint;
  /** The exact amount to print, e.g. "1234.50 USD". */
  readonly display: string;
  /** Optional link for the row (e.g. the ledger filtered to it). */
  readonly href?: string | undefined;
}

export interface ChartInput {
  /** Unique within the page (ids for aria-labelledby). */
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly bars: readonly Bar[];
  /** Column heading for the labels in the fallback table. */
  readonly labelHeading: string;
}

const W = 600;

/** Bar length as a share of the largest, in [0, 1]; exact for bigints of any size. */
export function share(minor: bigint, max: bigint): number {
  if (max <= 0n || minor <= 0n) return 0;
  if (minor >= max) return 1;
  return Number((minor * 10_000n) / max) / 10_000;
}

const maxOf = (bars: readonly Bar[]): bigint => bars.reduce((m, b) => (b.minor > m ? b.minor : m), 0n);

function fallback(c: ChartInput): Html {
  // Collapsed by default (a month of days is long at phone width); open, it is the chart's data.
  return html`<details><summary>${c.title}: the figures as a table</summary><div class="table-wrap"><table class="responsive"><caption class="muted">${c.title} (table)</caption>
<thead><tr><th scope="col">${c.labelHeading}</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>${c.bars.map(
    (b) =>
      html`<tr><td data-label="${c.labelHeading}">${b.href === undefined ? b.label : html`<a href="${b.href}">${b.label}</a>`}</td><td data-label="Amount" class="num">${b.display}</td></tr>`,
  )}</tbody></table></div></details>`;
}

const empty = (c: ChartInput): Html => html`<figure><figcaption><strong>${c.title}</strong></figcaption><p class="muted">Nothing recorded yet.</p></figure>`;

/** Horizontal bars, one per category (GL account, rail, agent): labels stay readable at phone width. */
export function horizontalBars(c: ChartInput): Html {
  if (c.bars.length === 0) return empty(c);
  const row = 26;
  const labelW = 170;
  const barW = W - labelW - 10;
  const h = c.bars.length * row + 6;
  const max = maxOf(c.bars);
  return html`<figure>
<svg class="chart" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-labelledby="${c.id}-t ${c.id}-d" xmlns="http://www.w3.org/2000/svg">
<title id="${c.id}-t">${c.title}</title><desc id="${c.id}-d">${c.description}</desc>
${c.bars.map((b, i) => {
  const w = Math.round(share(b.minor, max) * barW);
  const y = i * row + 4;
  return html`<g><text x="0" y="${y + 15}">${b.label.length > 26 ? `${b.label.slice(0, 25)}…` : b.label}</text><rect x="${labelW}" y="${y + 2}" width="${Math.max(w, 1)}" height="${row - 8}" fill="#0b5cad"><title>${b.label}: ${b.display}</title></rect></g>`;
})}
</svg>
<figcaption><strong>${c.title}</strong></figcaption>
${fallback(c)}
</figure>`;
}

/** Vertical bars over time (spend per day): the label axis shows the first, middle and last day. */
export function columnsOverTime(c: ChartInput): Html {
  if (c.bars.length === 0) return empty(c);
  const h = 180;
  const top = 10;
  const bottom = 24;
  const plot = h - top - bottom;
  const slot = W / c.bars.length;
  const max = maxOf(c.bars);
  const ticks = new Set([0, Math.floor((c.bars.length - 1) / 2), c.bars.length - 1]);
  return html`<figure>
<svg class="chart" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-labelledby="${c.id}-t ${c.id}-d" xmlns="http://www.w3.org/2000/svg">
<title id="${c.id}-t">${c.title}</title><desc id="${c.id}-d">${c.description}</desc>
<line x1="0" y1="${top + plot}" x2="${W}" y2="${top + plot}" stroke="#d0d7de"/>
${c.bars.map((b, i) => {
  const bh = Math.round(share(b.minor, max) * plot);
  const x = Math.round(i * slot + slot * 0.15);
  return html`<rect x="${x}" y="${top + plot - bh}" width="${Math.max(1, Math.round(slot * 0.7))}" height="${bh}" fill="#0b5cad"><title>${b.label}: ${b.display}</title></rect>${
    ticks.has(i) ? html`<text x="${Math.min(x, W - 70)}" y="${h - 6}">${b.label}</text>` : ''
  }`;
})}
</svg>
<figcaption><strong>${c.title}</strong></figcaption>
${fallback(c)}
</figure>`;
}

/** A budget meter as text and a bar: "1,200.00 of 5,000.00 USD (24%)"; over budget is said in words. */
export function budgetBar(id: string, label: string, spentMinor: bigint, budgetMinor: bigint | null, spent: string, budget: string | null): Html {
  if (budgetMinor === null || budget === null) return html`<span>${spent}</span> <span class="muted">(no monthly limit)</span>`;
  const pct = budgetMinor > 0n ? Number((spentMinor * 100n) / budgetMinor) : 0;
  const over = spentMinor > budgetMinor;
  const w = Math.round(share(spentMinor, budgetMinor) * 120);
  return html`<svg width="120" height="10" viewBox="0 0 120 10" role="img" aria-labelledby="${id}-t" xmlns="http://www.w3.org/2000/svg"><title id="${id}-t">${label}: ${pct}% of the monthly limit</title><rect x="0" y="0" width="120" height="10" fill="#f6f8fa" stroke="#d0d7de"/><rect x="0" y="0" width="${w}" height="10" fill="${over ? '#cf222e' : pct >= 80 ? '#9a6700' : '#1a7f37'}"/></svg>
<span>${spent} of ${budget} (${pct}%)</span>${over ? html` <span class="badge bad">over budget</span>` : pct >= 80 ? html` <span class="badge warn">near limit</span>` : ''}`;
}
