import { describe, expect, it } from 'vitest';
import { budgetBar, columnsOverTime, horizontalBars, share } from './charts.ts';

const bars = [
  { label: '6400', minor: 150_000n, display: '1500.00 USD', href: '/ledger?accounting_code=6400' },
  { label: '6420', minor: 50_000n, display: '500.00 USD' },
  { label: 'refunds only', minor: -2_500n, display: '-25.00 USD' },
];

const widths = (svg: string): number[] => [...svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)"/g)].map((m) => Number(m[1]));

describe('charts', () => {
  it('scales bars to the largest value exactly, even beyond 2^53 minor units', () => {
    expect(share(50n, 200n)).toBe(0.25);
    expect(share(-5n, 200n)).toBe(0);
    expect(share(300n, 200n)).toBe(1);
    expect(share(2n ** 70n, 2n ** 71n)).toBe(0.5);
    expect(share(1n, 0n)).toBe(0);
  });

  it('draws one bar per category with a title and description, and a table of the exact figures', () => {
    const svg = horizontalBars({ id: 'gl', title: 'Spend by GL account', description: 'Net spend per account', labelHeading: 'GL account', bars }).value;
    expect(svg).toContain('role="img" aria-labelledby="gl-t gl-d"');
    expect(svg).toContain('<title id="gl-t">Spend by GL account</title><desc id="gl-d">Net spend per account</desc>');
    // 420 px for the largest, a third of it for the next; a negative total is drawn as a sliver, not backwards.
    expect(widths(svg)).toEqual([420, 140, 1]);
    expect(svg).toContain('<td data-label="GL account"><a href="/ledger?accounting_code=6400">6400</a></td><td data-label="Amount" class="num">1500.00 USD</td>');
    expect(svg).toContain('<td data-label="Amount" class="num">-25.00 USD</td>');
    expect(svg).not.toMatch(/style=|<script/);
  });

  it('escapes labels and says so when there is nothing to draw', () => {
    const svg = columnsOverTime({ id: 'd', title: 'Per day', description: 'x', labelHeading: 'Day', bars: [{ label: '<b>', minor: 1n, display: '0.01 USD' }] }).value;
    expect(svg).toContain('&lt;b&gt;');
    expect(svg).not.toContain('<b>');
    expect(horizontalBars({ id: 'e', title: 'Empty', description: '', labelHeading: 'x', bars: [] }).value).toContain('Nothing recorded yet.');
  });

  it('puts the day columns on one baseline with heights proportional to spend', () => {
    const svg = columnsOverTime({
      id: 'daily',
      title: 'Per day',
      description: 'x',
      labelHeading: 'Day',
      bars: [
        { label: '03-01', minor: 100n, display: '1.00 USD' },
        { label: '03-02', minor: 50n, display: '0.50 USD' },
        { label: '03-03', minor: 0n, display: '0.00 USD' },
      ],
    }).value;
    const rects = [...svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"/g)].map((m) => ({ y: Number(m[2]), h: Number(m[4]) }));
    expect(rects.map((r) => r.h)).toEqual([146, 73, 0]);
    expect(new Set(rects.map((r) => r.y + r.h)).size).toBe(1);
  });

  it('states budget use in words, flagging near and over the limit', () => {
    expect(budgetBar('a', 'bot', 500n, 1000n, '5.00 USD', '10.00 USD').value).toContain('5.00 USD of 10.00 USD (50%)');
    expect(budgetBar('a', 'bot', 900n, 1000n, '9.00 USD', '10.00 USD').value).toContain('near limit');
    expect(budgetBar('a', 'bot', 1100n, 1000n, '11.00 USD', '10.00 USD').value).toContain('over budget');
    expect(budgetBar('a', 'bot', 1100n, null, '11.00 USD', null).value).toContain('no monthly limit');
  });
});
