/**
 * The queueing half of group commit: items are queued per key (an organisation), and whenever
 * fewer than `depth` units of work for that key are running, everything queued (up to
 * `maxBatch`) goes into a new one. No timer: an idle system runs a lone item at once, a busy one
 * amortises each unit's round trips and commit over many items.
 *
 * With a depth of 2 the next batch is built, and waits on the database lock that orders the
 * units (the tree lock, the agent rows), while the previous one commits; which unit goes first
 * is the database's decision, so this class holds no correctness of its own. An overlapping
 * unit starts only once at least half as many items as the running one holds are queued: started
 * for the first straggler it would commit one item and leave the rest to the unit after it,
 * paying a whole unit's round trips for little. `run` settles its items itself and must not throw.
 */
export class GroupCommitQueue<T> {
  private readonly queues = new Map<string, T[]>();
  /** Sizes of the units running per key. */
  private readonly running = new Map<string, number[]>();

  constructor(
    private readonly run: (key: string, batch: T[]) => Promise<void>,
    private readonly maxBatch: number,
    private readonly depth: number,
  ) {}

  push(key: string, item: T): void {
    const q = this.queues.get(key);
    if (q === undefined) this.queues.set(key, [item]);
    else q.push(item);
    this.pump(key);
  }

  private pump(key: string): void {
    for (;;) {
      const q = this.queues.get(key);
      const sizes = this.running.get(key) ?? [];
      if (q === undefined || q.length === 0 || sizes.length >= this.depth) return;
      if (sizes.length > 0 && q.length * 2 < Math.min(this.maxBatch, Math.max(...sizes))) return;
      const batch = q.splice(0, this.maxBatch);
      if (q.length === 0) this.queues.delete(key);
      const size = batch.length;
      this.running.set(key, [...sizes, size]);
      // `run` settles every item it was given, failures included; nothing is left to report here.
      void this.run(key, batch).catch(() => undefined).finally(() => {
        const left = [...(this.running.get(key) ?? [])];
        left.splice(left.indexOf(size), 1);
        if (left.length === 0) this.running.delete(key);
        else this.running.set(key, left);
        this.pump(key);
      });
    }
  }
}
