/**
 * A verify worker thread: hashes leaves for the main thread.
 *
 * A job is the UTF-8 of `count` canonical encodings, each preceded by a 0x00 byte, back to back
 * in the first `length` bytes of `bytes`. 0x00 is the RFC 6962 leaf prefix and also the
 * separator: canonical JSON writes U+0000 escaped, so the only 0x00 bytes are the ones that
 * start a leaf. The answer is the leaf
 * hashes in job order, 32 bytes each, or an error when the text does not hold `count` leaves
 * (the caller then hashes that job itself).
 */
export interface LeafJob {
  readonly id: number;
  readonly bytes: ArrayBuffer;
  readonly length: number;
  readonly count: number;
}

export interface LeafResult {
  readonly id: number;
  readonly hashes: ArrayBuffer | null;
  readonly error: string | null;
}

/**
 * The thread's program, run as a script (`new Worker(source, { eval: true })`). It is plain
 * JavaScript using only Node's own modules so that a thread starts the same way wherever the
 * product runs: a TypeScript file would need a loader registered inside every thread (tsx's
 * costs ~0.3 s of CPU per thread on Node 20, more than hashing a 50k-entry log) and would not
 * load at all under a test runner's transform. test/verify-workers.test.ts checks its output
 * against leafHash over the same records.
 */
export const LEAF_WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
parentPort.on('message', (job) => {
  try {
    const bytes = Buffer.from(job.bytes, 0, job.length);
    const out = new Uint8Array(new ArrayBuffer(job.count * 32));
    let start = 0;
    let i = 0;
    while (start < bytes.length) {
      if (bytes[start] !== 0 || i >= job.count) throw new Error('leaf ' + i + ' of ' + job.count + ' is not where the job says');
      let end = bytes.indexOf(0, start + 1);
      if (end < 0) end = bytes.length;
      out.set(hash('sha256', bytes.subarray(start, end), 'buffer'), i * 32);
      i++;
      start = end;
    }
    if (i !== job.count) throw new Error('the job holds ' + i + ' leaves, not ' + job.count);
    parentPort.postMessage({ id: job.id, hashes: out.buffer, error: null }, [out.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, hashes: null, error: String(e && e.message) });
  }
});
`;
