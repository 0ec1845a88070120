/**
 * The daemon's state: one row per instance in SQLite (`state.db`), with
 * the configuration and the status as JSON. Uses Node's built-in
 * `node:sqlite`; every write is one statement or one transaction.
 */
import { DatabaseSync } from 'node:sqlite';
import { AegisError, describeError } from '../../errors.ts';
import type { Instance, InstanceStatus } from '../model.ts';
import { migrate } from './schema.ts';

interface InstanceRow {
  id: string;
  name: string;
  created_at: string;
  config: string;
  status: string;
}

/** SQLite's extended result codes for a broken UNIQUE or PRIMARY KEY. */
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

const COLUMNS = 'id, name, created_at, config, status';

export class InstanceStore {
  readonly file: string;
  #db: DatabaseSync;

  /** Opens (creating if needed) and migrates the database at `file`. */
  constructor(file: string) {
    this.file = file;
    this.#db = openDatabase(file);
  }

  /** Records a new instance; CONFLICT when its name or id is taken. */
  insert(instance: Instance): void {
    try {
      this.#db
        .prepare(`INSERT INTO instances (${COLUMNS}) VALUES (?, ?, ?, ?, ?)`)
        .run(...toRow(instance));
    } catch (error) {
      throw translateConflict(error, instance);
    }
  }

  /** Replaces an instance's status and returns the updated instance. */
  updateStatus(id: string, status: InstanceStatus): Instance {
    const result = this.#db
      .prepare('UPDATE instances SET status = ? WHERE id = ?')
      .run(JSON.stringify(status), id);
    if (result.changes === 0) throw notFound(id);
    return this.#mustGet(id);
  }

  /** Forgets an instance; false when there was none by that id. */
  delete(id: string): boolean {
    const result = this.#db
      .prepare('DELETE FROM instances WHERE id = ?')
      .run(id);
    return result.changes > 0;
  }

  get(id: string): Instance | undefined {
    const row = this.#db
      .prepare(`SELECT ${COLUMNS} FROM instances WHERE id = ?`)
      .get(id) as InstanceRow | undefined;
    return row && fromRow(row);
  }

  getByName(name: string): Instance | undefined {
    const row = this.#db
      .prepare(`SELECT ${COLUMNS} FROM instances WHERE name = ?`)
      .get(name) as InstanceRow | undefined;
    return row && fromRow(row);
  }

  /**
   * Finds an instance by full id, name, or unique id prefix, in that
   * order (as Docker does). NOT_FOUND when nothing matches;
   * INVALID_ARGUMENT when a prefix matches several.
   */
  resolve(ref: string): Instance {
    const exact = this.get(ref) ?? this.getByName(ref);
    if (exact) return exact;
    const matches = /^[0-9a-f]+$/.test(ref) ? this.#byPrefix(ref) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new AegisError(
        'INVALID_ARGUMENT',
        `id prefix "${ref}" matches ${matches.length} instances ` +
          `(${matches.map((i) => i.id).join(', ')}); give more characters`,
      );
    }
    throw notFound(ref);
  }

  /** Every instance, oldest first. */
  list(): Instance[] {
    const rows = this.#db
      .prepare(`SELECT ${COLUMNS} FROM instances ORDER BY created_at, id`)
      .all() as unknown as InstanceRow[];
    return rows.map(fromRow);
  }

  /** Runs `fn` in one transaction; nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    if (this.#db.isTransaction) return fn();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #byPrefix(prefix: string): Instance[] {
    const rows = this.#db
      .prepare(
        `SELECT ${COLUMNS} FROM instances WHERE substr(id, 1, ?) = ? ` +
          'ORDER BY id',
      )
      .all(prefix.length, prefix) as unknown as InstanceRow[];
    return rows.map(fromRow);
  }

  #mustGet(id: string): Instance {
    const instance = this.get(id);
    if (!instance) throw notFound(id);
    return instance;
  }
}

function openDatabase(file: string): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA busy_timeout = 5000');
    migrate(db, file);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof AegisError) throw error;
    throw new AegisError(
      'STATE_UNREADABLE',
      `cannot open the state database ${file}: ${describeError(error)}; ` +
        'check its permissions, or move it away to start afresh',
      { cause: error },
    );
  }
}

function toRow(instance: Instance): [string, string, string, string, string] {
  return [
    instance.id,
    instance.name,
    instance.createdAt,
    JSON.stringify(instance.config),
    JSON.stringify(instance.status),
  ];
}

function fromRow(row: InstanceRow): Instance {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    config: JSON.parse(row.config),
    status: JSON.parse(row.status),
  };
}

function translateConflict(error: unknown, instance: Instance): unknown {
  const errcode = (error as { errcode?: number }).errcode;
  if (errcode === SQLITE_CONSTRAINT_UNIQUE) {
    return new AegisError(
      'CONFLICT',
      `the name "${instance.name}" is already in use; pick another name ` +
        `or remove that instance with \`aegis instance rm ${instance.name}\``,
    );
  }
  if (errcode === SQLITE_CONSTRAINT_PRIMARYKEY) {
    return new AegisError(
      'CONFLICT',
      `an instance with id ${instance.id} already exists`,
    );
  }
  return error;
}

function notFound(ref: string): AegisError {
  return new AegisError(
    'NOT_FOUND',
    `no instance named "${ref}" or with an id starting "${ref}"; ` +
      'list instances with `aegis instance ls`',
  );
}
