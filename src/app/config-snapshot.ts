import type { RuleBook } from '../domain/gl/coding.ts';
import { ruleBook } from '../domain/gl/coding.ts';
import type { CompiledPolicy, PolicyDocument } from '../domain/policy/policy.ts';
import { compilePolicy } from '../domain/policy/policy.ts';
import type { OrgRow, StoreReads } from './ports/store.ts';

/** What evaluating a payment needs to know about an organisation, compiled once. */
export interface ConfigSnapshot {
  readonly configSeq: number;
  readonly org: OrgRow;
  readonly agents: ReadonlyMap<string, { readonly owner: string; readonly cluster: string }>;
  readonly activeAccounts: ReadonlySet<string>;
  readonly rules: RuleBook;
  /** Policy versions per agent, in version order. */
  readonly policies: ReadonlyMap<string, readonly CompiledPolicy[]>;
}

/**
 * Configuration changes only through log entries, and every such append moves the tree head's
 * `config_seq`. A snapshot read at a given config_seq is therefore exact for as long as the head
 * shows that value — across processes too, since the head is read from the database — so a
 * writer holding the tree lock can reuse it instead of re-reading five tables per batch.
 */
export class ConfigCache {
  private readonly byOrg = new Map<string, ConfigSnapshot>();

  async get(store: StoreReads, orgId: string, configSeq: number): Promise<ConfigSnapshot | undefined> {
    const hit = this.byOrg.get(orgId);
    if (hit !== undefined && hit.configSeq === configSeq && configSeq >= 0) return hit;
    // One after another: inside a unit of work these share one connection.
    const org = await store.getOrg(orgId);
    const agents = await store.getAgents(orgId);
    const accounts = await store.getAccounts(orgId);
    const rules = await store.getRules(orgId);
    const policyRows = await store.getPolicyVersions(orgId);
    if (org === undefined) return undefined;
    const policies = new Map<string, CompiledPolicy[]>();
    for (const row of policyRows) {
      const list = policies.get(row.agent_id) ?? [];
      list.push(compilePolicy(JSON.parse(row.document) as PolicyDocument));
      policies.set(row.agent_id, list);
    }
    const snap: ConfigSnapshot = {
      configSeq,
      org,
      agents: new Map(agents.map((a) => [a.agent_id, { owner: a.owner, cluster: a.cluster }])),
      activeAccounts: new Set(accounts.filter((a) => a.active).map((a) => a.code)),
      rules: ruleBook(rules.filter((r) => r.active)),
      policies,
    };
    this.byOrg.set(orgId, snap);
    return snap;
  }
}

const caches = new WeakMap<object, ConfigCache>();

/** One cache per store: the store object is the identity of the database it reads. */
export function configCacheFor(store: object): ConfigCache {
  let c = caches.get(store);
  if (c === undefined) {
    c = new ConfigCache();
    caches.set(store, c);
  }
  return c;
}
