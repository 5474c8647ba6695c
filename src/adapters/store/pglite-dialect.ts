import type { PGlite } from '@electric-sql/pglite';
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
} from 'kysely';
import { PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { CopyInData, copiedRows, copyInMessage } from './pglite-copy-in.ts';

/**
 * Kysely on PGlite: PostgreSQL's compiler and introspector, and a driver over PGlite's single
 * in-process connection. A mutex hands that connection to one unit of work at a time, which is
 * what a pool of size one does.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    if (compiled.parameters.length === 0 && compiled.sql.includes(';')) {
      // Several statements (migrations): only the simple protocol accepts them.
      const results = await this.pglite.exec(compiled.sql);
      const last = results[results.length - 1];
      return { rows: (last?.rows ?? []) as R[] };
    }
    const [data] = compiled.parameters;
    if (compiled.parameters.length === 1 && data instanceof CopyInData) return this.copyIn<R>(compiled.sql, data);
    const r = await this.pglite.query<R>(compiled.sql, [...compiled.parameters]);
    return {
      rows: r.rows,
      ...(r.affectedRows === undefined ? {} : { numAffectedRows: BigInt(r.affectedRows) }),
    };
  }

  /**
   * `COPY … FROM STDIN` with its data (see pglite-copy-in.ts), in PGlite's query lock so that
   * nothing else reaches the engine between the statement and its data.
   */
  private async copyIn<R>(sql: string, data: CopyInData): Promise<QueryResult<R>> {
    const message = copyInMessage(sql, data.pieces);
    const { messages } = await this.pglite.runExclusive(() => this.pglite.execProtocol(message));
    let copied = 0;
    for (const m of messages) if (m.name === 'commandComplete' && 'text' in m && typeof m.text === 'string') copied += copiedRows(m.text) ?? 0;
    return { rows: [], numAffectedRows: BigInt(copied) };
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on PGlite; read in pages');
  }
}

class PGliteDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  private readonly connection: PGliteConnection;

  constructor(private readonly pglite: PGlite) {
    this.connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {
    await this.pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.queue;
    this.queue = previous.then(() => next);
    await previous;
    this.releases.push(release);
    return this.connection;
  }

  private readonly releases: (() => void)[] = [];

  async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery({ sql: 'begin', parameters: [], query: { kind: 'RawNode' } } as unknown as CompiledQuery);
  }
  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery({ sql: 'commit', parameters: [], query: { kind: 'RawNode' } } as unknown as CompiledQuery);
  }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery({ sql: 'rollback', parameters: [], query: { kind: 'RawNode' } } as unknown as CompiledQuery);
  }

  releaseConnection(): Promise<void> {
    this.releases.shift()?.();
    return Promise.resolve();
  }

  async destroy(): Promise<void> {
    await this.pglite.close();
  }
}
