import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The SDK warns once per process that its 2027+ releases need Node 22; package.json pins a
// release that supports Node 20, so the warning is only noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const START_SCRIPT = fileURLToPath(new URL('../../scripts/s3/start-rgw.sh', import.meta.url));
/** One data directory for every test process: the script's lock makes concurrent starts share one cluster. */
export const RGW_DATA_DIR = process.env.SPENDTRAIL_TEST_RGW_DIR ?? join(process.env.TMPDIR ?? '/tmp', 'spendtrail-rgw');
/** Within the 120 s hook timeout: a cold start takes ~2.5–5 s, a reuse ~50 ms. */
const START_TIMEOUT_MS = 100_000;

export interface S3Env {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** The local RGW's data directory (for radosgw-admin), or null for an endpoint given by the environment. */
  readonly dataDir: string | null;
}

let s3Ready: Promise<S3Env | null> | undefined;

/**
 * An S3 endpoint with Object Lock for tests: a local Ceph RGW started once per test process by
 * scripts/s3/start-rgw.sh (which reuses one that is already running), or the endpoint in
 * SPENDTRAIL_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY). Without radosgw, under CI the run
 * fails; elsewhere the S3 tests are skipped loudly.
 */
export function s3Available(): Promise<S3Env | null> {
  s3Ready ??= (async () => {
    const given = process.env.SPENDTRAIL_TEST_S3_ENDPOINT;
    if (given !== undefined && given !== '') {
      const env: S3Env = {
        endpoint: given,
        accessKeyId: process.env.SPENDTRAIL_TEST_S3_ACCESS_KEY ?? '',
        secretAccessKey: process.env.SPENDTRAIL_TEST_S3_SECRET_KEY ?? '',
        region: process.env.SPENDTRAIL_TEST_S3_REGION ?? 'us-east-1',
        dataDir: null,
      };
      await assertAnswers(env.endpoint);
      return env;
    }
    if (!(await installed('radosgw'))) {
      if (process.env.CI === 'true') throw new Error('radosgw (Ceph RGW) is required under CI for the S3 Object Lock tests: apt-get install ceph-mon ceph-osd radosgw uuid-runtime');
      console.warn('\n!!! SKIPPED: radosgw (Ceph RGW) not installed: S3 Object Lock untested (apt-get install ceph-mon ceph-osd radosgw curl jq uuid-runtime).\n');
      return null;
    }
    let out: string;
    try {
      ({ stdout: out } = await run(START_SCRIPT, [RGW_DATA_DIR], { timeout: START_TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, RGW_LOCK_WAIT: '90' } }));
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`scripts/s3/start-rgw.sh failed: ${err.message}\n${err.stderr ?? ''}`);
    }
    const vars = new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    const need = (k: string): string => {
      const v = vars.get(k);
      if (v === undefined || v === '') throw new Error(`start-rgw.sh printed no ${k}`);
      return v;
    };
    const env: S3Env = {
      endpoint: need('S3_ENDPOINT'),
      accessKeyId: need('S3_ACCESS_KEY'),
      secretAccessKey: need('S3_SECRET_KEY'),
      region: need('S3_REGION'),
      dataDir: need('RGW_DATA_DIR'),
    };
    await assertAnswers(env.endpoint);
    return env;
  })();
  return s3Ready;
}

/**
 * Removes a test bucket with its locked objects (RGW's admin tool bypasses Object Lock).
 * Best effort: a failure only leaves the bucket behind in the throw-away cluster.
 */
export async function purgeBucket(env: S3Env, bucket: string): Promise<void> {
  if (env.dataDir === null) return;
  await run('radosgw-admin', ['-c', join(env.dataDir, 'ceph.conf'), 'bucket', 'rm', `--bucket=${bucket}`, '--purge-objects', '--bypass-gc'], { timeout: 30_000 })
    .catch((e: unknown) => console.warn(`(could not purge test bucket ${bucket}: ${(e as Error).message})`));
}

async function installed(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** The endpoint answers HTTP at all (any status). */
async function assertAnswers(endpoint: string): Promise<void> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    throw new Error(`S3 endpoint ${endpoint} does not answer: ${(e as Error).message}`);
  }
}
